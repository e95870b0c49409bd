/** seqrec plot's pieces: category files, axis ticks, the three charts, interest routing, PNG output. */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { ComiRecSA } from '../../src/models/comirec-sa.js';
import { GRU4Rec } from '../../src/models/gru4rec.js';
import { parseItemInfo } from '../../src/plot/categories.js';
import { curvesSvg, parseHistory } from '../../src/plot/curves.js';
import { embeddingMapSvg, pca2d, project2d, topCategories } from '../../src/plot/embedding-map.js';
import { interestsSvg, routeHistory } from '../../src/plot/interests.js';
import { writeSvgAndPng } from '../../src/plot/png.js';
import { escapeXml, niceTicks } from '../../src/plot/svg.js';
import { setupBackend } from '../helpers.js';

before(setupBackend);

test('categories: u.item first genre and title, movies.dat, item,category lines with header', () => {
  const uitem = [
    '1|Toy Story (1995)|01-Jan-1995||http://x|0|0|0|1|1|1|0|0|0|0|0|0|0|0|0|0|0|0|0',
    '2|GoldenEye (1995)|01-Jan-1995||http://x|0|1|1|0|0|0|0|0|0|0|0|0|0|0|0|0|1|0|0',
    '3|Nothing (1995)|01-Jan-1995||http://x|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0',
  ].join('\n');
  const a = parseItemInfo(uitem, 'ml-100k/u.item');
  assert.equal(a.format, 'movielens-item');
  assert.deepEqual([...a.categories], [['1', 'Animation'], ['2', 'Action'], ['3', 'unknown']]);
  assert.equal(a.names.get('1'), 'Toy Story (1995)');
  const b = parseItemInfo("1::Toy Story (1995)::Animation|Children's|Comedy\n2::Jumanji (1995)::Adventure\n", 'movies.dat');
  assert.equal(b.format, 'movielens-movies');
  assert.equal(b.categories.get('1'), 'Animation');
  const c = parseItemInfo('item,category,name\n# comment\ni1,books,A Book\ni2,music\n\n', 'cats.csv');
  assert.equal(c.format, 'item-category');
  assert.deepEqual([...c.categories], [['i1', 'books'], ['i2', 'music']]);
  assert.equal(c.names.get('i1'), 'A Book');
  assert.throws(() => parseItemInfo('i1\n', 'bad.csv'), /bad\.csv line 1/);
  assert.deepEqual([...parseItemInfo('i1\tx\n', 't.tsv').categories], [['i1', 'x']]);
});

test('niceTicks and escaping', () => {
  assert.deepEqual(niceTicks(0, 0.2, 4), [0, 0.05, 0.1, 0.15, 0.2]);
  assert.deepEqual(niceTicks(6.4, 7.2, 4), [6.4, 6.6, 6.8, 7, 7.2]);
  assert.equal(escapeXml(`a<b & "c"`), 'a&lt;b &amp; &quot;c&quot;');
});

test('topCategories keeps the most frequent and groups the rest', () => {
  const { kept } = topCategories(['a', 'a', 'a', 'b', 'b', 'c', 'd'], 2);
  assert.deepEqual(kept, ['a', 'b']);
  // One extra category is shown rather than an "other" of one.
  assert.deepEqual(topCategories(['a', 'a', 'b', 'c'], 2).kept, ['a', 'b', 'c']);
});

test('PCA finds the direction of largest variance; UMAP gives finite 2-D points', async () => {
  const n = 40;
  const rows = new Float32Array(n * 3);
  for (let i = 0; i < n; i++) {
    rows[i * 3] = i; // large variance along dim 0
    rows[i * 3 + 1] = (i % 2) * 0.1;
    rows[i * 3 + 2] = 0;
  }
  const p = pca2d(rows, 3);
  const xs = Array.from({ length: n }, (_, i) => p[2 * i]);
  const corr = Math.abs(xs[n - 1] - xs[0]) / (n - 1);
  assert.ok(Math.abs(corr - 1) < 1e-6, `first PC ~ dim 0, got slope ${corr}`);
  const u = await project2d(rows.map((v, i) => v + (i % 3 === 2 ? Math.sin(i) : 0)), 3, { method: 'umap', seed: 1 });
  assert.equal(u.length, n * 2);
  assert.ok(u.every(Number.isFinite));
});

test('curves: both panels, labels, legend and the best epoch; bad history rejected', () => {
  const run = parseHistory(
    { model: 'gru4rec', bestEpoch: 2, history: [1, 2, 3].map((e) => ({ epoch: e, loss: 7 - e / 10, valid: { 'recall@50': 0.1 + e / 100, 'recall@20': 0.05 } })) },
    'h.json',
  );
  const svg = curvesSvg(run, { title: 'GRU4Rec <test>' });
  for (const s of ['GRU4Rec &lt;test&gt;', 'Training loss', 'valid recall@50', 'valid recall@20', 'best epoch (2)', '>epoch<', '>loss<']) assert.ok(svg.includes(s), s);
  assert.throws(() => parseHistory({ history: [] }, 'h.json'), /no epochs/);
  assert.throws(() => parseHistory({ nope: 1 }, 'h.json'), /h\.json/);
});

test('embedding map: categorical legend with counts; continuous colour bar', () => {
  const points = Float64Array.from({ length: 20 }, (_, i) => i);
  const cat = embeddingMapSvg({ points, title: 'Map', colouring: { kind: 'category', labels: ['Drama', 'Drama', 'Comedy', 'Action', 'Drama', 'Comedy', 'War', 'War', 'Drama', 'Comedy'], title: 'First genre' } });
  assert.ok(cat.includes('Drama (4)') && cat.includes('Comedy (3)') && cat.includes('First genre'));
  assert.equal((cat.match(/<circle/g) ?? []).length, 10 + 4); // points + legend dots
  const cont = embeddingMapSvg({ points, title: 'Map', colouring: { kind: 'continuous', values: Array.from({ length: 10 }, (_, i) => i / 3), title: 'interactions', format: (v) => String(Math.round(10 ** v)) } });
  assert.ok(cont.includes('linearGradient') && cont.includes('interactions'));
});

test('routeHistory: each item goes to the interest with the largest inner product', () => {
  const model = new ComiRecSA({ itemCount: 30, embeddingDim: 8, maxLen: 6, numInterests: 3, seed: 3 });
  try {
    const history = Int32Array.from([5, 9, 2, 17, 4, 11, 23, 8]);
    const r = routeHistory(model, history, 4);
    assert.deepEqual([...r.items], [2, 17, 4, 11, 23, 8]); // the last maxLen items
    assert.equal(r.numInterests, 3);
    const users = tf.tidy(() => model.userEmbeddings({ batchSize: 1, maxLen: 6, history: r.items, mask: new Float32Array(6).fill(1), lengths: Int32Array.of(6) })).arraySync() as number[][][];
    const table = model.itemEmbeddings().arraySync();
    r.items.forEach((item, i) => {
      const dots = users[0].map((v) => v.reduce((s, x, j) => s + x * table[item][j], 0));
      const best = dots.indexOf(Math.max(...dots));
      assert.equal(r.route[i], best);
      assert.ok(Math.abs(r.scores[i * 3 + best] - dots[best]) < 1e-4);
    });
    for (const top of r.topItems) {
      assert.equal(top.length, 4);
      for (const item of top) assert.ok(item > 0 && !r.items.includes(item), 'history and padding excluded');
    }
    const svg = interestsSvg(r, { title: 'T', itemLabel: (i) => `item ${i}`, itemCategory: (i) => (i % 2 ? 'odd' : undefined) });
    assert.ok(svg.includes('interest 1:') && svg.includes('item 17  [odd]') && svg.includes('History window'));
  } finally {
    model.dispose();
  }
  const single = new GRU4Rec({ itemCount: 10, embeddingDim: 4, maxLen: 3 });
  assert.throws(() => routeHistory(single, Int32Array.of(1, 2)), /multi-interest/);
  single.dispose();
});

test('writeSvgAndPng writes both files; the PNG is a PNG of the requested scale', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'seqrec-plot-'));
  try {
    const svg = '<svg xmlns="http://www.w3.org/2000/svg" width="200" height="100"><text x="10" y="50">hi</text></svg>';
    const files = await writeSvgAndPng(join(dir, 'x'), svg, 2);
    assert.equal(await readFile(files.svg, 'utf8'), svg);
    const png = await readFile(files.png);
    assert.deepEqual([...png.subarray(1, 4)], [...Buffer.from('PNG')]);
    assert.equal(png.readUInt32BE(16), 400); // IHDR width
    assert.equal(png.readUInt32BE(20), 200);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
