/** seqrec plot's pieces: category files, ticks, the three charts (Vega-Lite), interest routing, spec/SVG/PNG output. */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { ComiRecSA } from '../../src/models/comirec-sa.js';
import { GRU4Rec } from '../../src/models/gru4rec.js';
import { parseItemInfo } from '../../src/plot/categories.js';
import { curvesSpec, curvesSvg, parseHistory, type RunHistory } from '../../src/plot/curves.js';
import { embeddingMapSpec, embeddingMapSvg, logTicks, pca2d, project2d, topCategories } from '../../src/plot/embedding-map.js';
import { interestsSvg, routeHistory } from '../../src/plot/interests.js';
import { svgToPng, writeChart } from '../../src/plot/png.js';
import { compileVegaLite, PALETTE, VEGA_LITE_SCHEMA } from '../../src/plot/vega.js';
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
  assert.deepEqual(
    [...a.categories],
    [
      ['1', 'Animation'],
      ['2', 'Action'],
      ['3', 'unknown'],
    ],
  );
  assert.equal(a.names.get('1'), 'Toy Story (1995)');
  const b = parseItemInfo("1::Toy Story (1995)::Animation|Children's|Comedy\n2::Jumanji (1995)::Adventure\n", 'movies.dat');
  assert.equal(b.format, 'movielens-movies');
  assert.equal(b.categories.get('1'), 'Animation');
  const c = parseItemInfo('item,category,name\n# comment\ni1,books,A Book\ni2,music\n\n', 'cats.csv');
  assert.equal(c.format, 'item-category');
  assert.deepEqual(
    [...c.categories],
    [
      ['i1', 'books'],
      ['i2', 'music'],
    ],
  );
  assert.equal(c.names.get('i1'), 'A Book');
  assert.throws(() => parseItemInfo('i1\n', 'bad.csv'), /bad\.csv line 1/);
  assert.deepEqual([...parseItemInfo('i1\tx\n', 't.tsv').categories], [['i1', 'x']]);
});

test('logTicks: 1, 2 and 5 times the powers of ten inside the range', () => {
  assert.deepEqual(logTicks(1, 500), [1, 2, 5, 10, 20, 50, 100, 200, 500]);
  assert.deepEqual(logTicks(3, 40), [5, 10, 20]);
  assert.deepEqual(logTicks(0.02, 0.3), [0.02, 0.05, 0.1, 0.2]);
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
  const u = await project2d(
    rows.map((v, i) => v + (i % 3 === 2 ? Math.sin(i) : 0)),
    3,
    { method: 'umap', seed: 1 },
  );
  assert.equal(u.length, n * 2);
  assert.ok(u.every(Number.isFinite));
});

/** The group of the Vega axis whose aria-label starts with `label` (e.g. "Y-axis titled 'loss'"). */
function axisGroup(svg: string, label: string): string {
  const start = svg.indexOf(`aria-label="${label}`);
  assert.ok(start >= 0, `no axis ${label}`);
  const end = svg.indexOf('role-axis-title', start);
  return svg.slice(start, end);
}

/** y of each `translate(x,y)` in `markup`. */
function translateYs(markup: string, element: string): number[] {
  return [...markup.matchAll(new RegExp(`<${element}[^>]*transform="translate\\(([-\\d.e]+),([-\\d.e]+)\\)`, 'g'))].map((m) => Number(m[2]));
}

function yTicks(svg: string, title: string): { labels: string[]; ys: number[] } {
  const g = axisGroup(svg, `Y-axis titled '${title}'`);
  const labels = [...g.matchAll(/role-axis-label[\s\S]*?(?=<\/g>)/g)].flatMap((m) => [...m[0].matchAll(/<text[^>]*>([^<]*)<\/text>/g)].map((t) => t[1]));
  const ticks = /role-axis-tick[\s\S]*?<\/g>/.exec(g)?.[0] ?? '';
  return { labels, ys: translateYs(ticks, 'line') };
}

const RECALL = [0.01, 0.02, 0.025, 0.027];
const run: RunHistory = {
  model: 'gru4rec',
  bestEpoch: 3,
  baselines: { MostPopular: { valid: { 'recall@50': 0.012 } } },
  history: RECALL.map((r, i) => ({ epoch: i + 1, loss: 7 - i * 0.07, valid: { 'recall@50': r, 'recall@20': r / 2 } })),
};

test('curves: both panels, labels, legend and the best epoch; bad history rejected', async () => {
  const svg = await curvesSvg(run, { title: 'GRU4Rec <test>', subtitle: ['4 epochs'] });
  for (const s of [
    'GRU4Rec &lt;test&gt;',
    '4 epochs',
    'Training loss',
    'Validation',
    'valid recall@50',
    'valid recall@20',
    'best epoch (3)',
    'MostPopular 0.012',
    'MostPopular valid recall@50',
    '>epoch<',
    '>loss<',
    '>valid metric<',
  ]) {
    assert.ok(svg.includes(s), s);
  }
  const spec = curvesSpec(run, { title: 'T', metrics: ['recall@20', 'nope'] });
  assert.ok(!JSON.stringify(spec).includes('recall@50'), 'only the metrics asked for (and present)');
  assert.throws(() => curvesSpec(run, { title: 'T', metrics: ['nope'] }), /none of the metrics/);
  assert.throws(() => parseHistory({ history: [] }, 'h.json'), /no epochs/);
  assert.throws(() => parseHistory({ nope: 1 }, 'h.json'), /h\.json/);
  // history.json is strict: a typo'd key is named with a hint (the epoch records may carry timings).
  assert.throws(
    () => parseHistory({ history: [{ epoch: 1, loss: 1, valid: {}, trainSeconds: 2 }], bestEpcoh: 1 }, 'h.json'),
    /unknown option 'bestEpcoh' \(did you mean 'bestEpoch'\?\)/,
  );
  assert.equal(parseHistory([{ epoch: 1, loss: 1, valid: { 'recall@50': 0.1 }, trainSeconds: 2 }], 'h.json').history[0].trainSeconds, 2);
});

test('curves: each y tick label stands where its value is (no rounded or repeated labels)', async () => {
  const svg = await curvesSvg(run, { title: 'T', metrics: ['recall@50'] });
  const { labels, ys } = yTicks(svg, 'valid metric');
  assert.ok(labels.length >= 4, labels.join(' '));
  assert.equal(ys.length, labels.length, 'one tick per label');
  assert.equal(new Set(labels).size, labels.length, `repeated labels: ${labels.join(' ')}`);
  const values = labels.map(Number);
  assert.ok(values.every(Number.isFinite));
  // The data points, drawn by the same scale, anchor the check: value -> y is the line through
  // the points of recall 0.01 (epoch 1) and 0.02 (epoch 2).
  const points = [...svg.matchAll(/<path[^>]*aria-roledescription="point"[^>]*transform="translate\(([-\d.e]+),([-\d.e]+)\)"[^>]*fill="([^"]+)"/g)]
    .filter((m) => m[3] === PALETTE[0])
    .map((m) => Number(m[2]));
  assert.equal(points.length, RECALL.length);
  const slope = (points[1] - points[0]) / (RECALL[1] - RECALL[0]);
  const yOf = (v: number) => points[0] + (v - RECALL[0]) * slope;
  RECALL.forEach((r, i) => assert.ok(Math.abs(points[i] - yOf(r)) < 0.5, `point ${i}`));
  // Axis ticks are offset by half a pixel for crisp lines.
  values.forEach((v, i) => assert.ok(Math.abs(ys[i] - yOf(v)) <= 1, `tick '${labels[i]}' at y=${ys[i]}, value ${v} is at y=${yOf(v).toFixed(1)}`));
  // Labels carry as many decimals as their step needs: the tick at 0.02 reads 0.02, not 0.0 or 0.03.
  assert.ok(
    values.some((v) => Math.abs(v - 0.02) < 1e-12),
    labels.join(' '),
  );
  assert.ok(
    labels.every((l) => /^0(\.\d+)?$/.test(l) && l.length === labels[1].length),
    labels.join(' '),
  );
  // The loss axis too.
  const loss = yTicks(svg, 'loss');
  assert.equal(new Set(loss.labels).size, loss.labels.length);
  const lv = loss.labels.map(Number);
  const step = lv[1] - lv[0];
  lv.forEach(
    (v, i) =>
      i > 0 &&
      assert.ok(
        Math.abs(v - lv[i - 1] - step) < 1e-9 && Math.abs(loss.ys[i] - loss.ys[i - 1] - (loss.ys[1] - loss.ys[0])) <= 1,
        'evenly spaced ticks of even steps',
      ),
  );
});

test('embedding map: categorical legend with counts, small categories on top; log colour scale', async () => {
  const points = Float64Array.from({ length: 20 }, (_, i) => i);
  const labels = ['Drama', 'Drama', 'Comedy', 'Action', 'Drama', 'Comedy', 'War', 'War', 'Drama', 'Comedy'];
  const cat = await embeddingMapSvg({ points, title: 'Map', colouring: { kind: 'category', labels, title: 'First genre', maxCategories: 2 } });
  for (const s of ['Drama (4)', 'Comedy (3)', 'other (3)', 'First genre', 'UMAP 1']) assert.ok(cat.includes(s), s);
  const marks = /class="mark-symbol role-mark[^"]*"[^>]*>([\s\S]*?)<\/g>/.exec(cat)?.[1] ?? '';
  assert.equal((marks.match(/<path /g) ?? []).length, 10, 'one circle per point');
  assert.ok(/translate\(\d+(\.\d{1,2})?,\d+(\.\d{1,2})?\)/.test(marks) && !/\d\.\d{3}/.test(marks), 'geometry rounded to 2 decimals');
  const spec = embeddingMapSpec({ points, title: 'Map', colouring: { kind: 'category', labels, title: 'First genre', maxCategories: 2 } }) as unknown as {
    data: { values: { c: string; x: number; y: number }[] };
  };
  // Drawn in order: "other" underneath, then the largest category, then the smaller.
  assert.deepEqual(
    spec.data.values.map((v) => v.c.split(' ')[0]),
    ['other', 'other', 'other', 'Drama', 'Drama', 'Drama', 'Drama', 'Comedy', 'Comedy', 'Comedy'],
  );
  assert.deepEqual(spec.data.values[3], { x: 0, y: 1, c: 'Drama (4)' });

  const counts = [1, 3, 8, 20, 40, 90, 150, 230, 320, 480];
  const cont = await embeddingMapSvg({ points, title: 'Map', colouring: { kind: 'continuous', values: counts, title: 'interactions', scale: 'log' } });
  assert.ok(cont.includes('interactions') && cont.includes('linearGradient'));
  const legend = [...cont.matchAll(/role-legend-label[\s\S]*?<\/g>/g)].flatMap((m) => [...m[0].matchAll(/>([^<]+)<\/text>/g)].map((t) => t[1]));
  assert.deepEqual(legend, logTicks(1, 480).map(String));
  const rank = embeddingMapSpec({
    points,
    title: 'Map',
    colouring: { kind: 'continuous', values: counts.map((_, i) => i + 1), title: 'rank', scale: 'log', reverse: true },
  }) as unknown as { data: { values: { c: number }[] } };
  assert.equal(rank.data.values.at(-1)!.c, 1, 'rank 1 (bright end) drawn last, on top');
  assert.throws(
    () => embeddingMapSpec({ points, title: 'Map', colouring: { kind: 'continuous', values: [0, ...counts.slice(1)], title: 'x', scale: 'log' } }),
    /values > 0/,
  );
});

test('routeHistory: each item goes to the interest with the largest inner product', async () => {
  const model = new ComiRecSA({ itemCount: 30, embeddingDim: 8, maxLen: 6, numInterests: 3, seed: 3 });
  try {
    const history = Int32Array.from([5, 9, 2, 17, 4, 11, 23, 8]);
    const r = routeHistory(model, history, 4);
    assert.deepEqual([...r.items], [2, 17, 4, 11, 23, 8]); // the last maxLen items
    assert.equal(r.numInterests, 3);
    const users = tf
      .tidy(() => model.userEmbeddings({ batchSize: 1, maxLen: 6, history: r.items, mask: new Float32Array(6).fill(1), lengths: Int32Array.of(6) }))
      .arraySync() as number[][][];
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
    const svg = await interestsSvg(r, { title: 'T', itemLabel: (i) => `item ${i}`, itemCategory: (i) => (i % 2 ? 'odd' : undefined) });
    assert.ok(svg.includes('interest 1:') && svg.includes('item 17  [odd]') && svg.includes('History window'));
    // Every history item's badge names the interest it routes to, in window order.
    const badges = [...svg.matchAll(/<text[^>]*font-weight="bold"[^>]*>#(\d+)<\/text>/g)].map((m) => Number(m[1]) - 1);
    assert.deepEqual(badges.slice(0, r.items.length), [...r.route]);
  } finally {
    model.dispose();
  }
  const single = new GRU4Rec({ itemCount: 10, embeddingDim: 4, maxLen: 3 });
  assert.throws(() => routeHistory(single, Int32Array.of(1, 2)), /multi-interest/);
  single.dispose();
});

test('writeChart writes the Vega-Lite spec (compiles, data inlined), the SVG and a PNG of the requested scale', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'seqrec-plot-'));
  try {
    const files = await writeChart(join(dir, 'sub', 'curves.png'), curvesSpec(run, { title: 'Curves' }), 2);
    assert.deepEqual(files, { spec: join(dir, 'sub', 'curves.vl.json'), svg: join(dir, 'sub', 'curves.svg'), png: join(dir, 'sub', 'curves.png') });
    const spec = JSON.parse(await readFile(files.spec, 'utf8'));
    assert.equal(spec.$schema, VEGA_LITE_SCHEMA);
    assert.ok(!JSON.stringify(spec).includes('"url"'), 'data inlined');
    const vega = await compileVegaLite(spec);
    assert.ok(Array.isArray(vega.marks) && (vega.marks as unknown[]).length > 0);
    const svg = await readFile(files.svg, 'utf8');
    assert.ok(svg.startsWith('<svg') && svg.includes('Curves'));
    const width = Number(/width="(\d+)"/.exec(svg)![1]);
    const png = await readFile(files.png);
    assert.deepEqual([...png.subarray(1, 4)], [...Buffer.from('PNG')]);
    assert.equal(png.readUInt32BE(16), width * 2); // IHDR width
    assert.ok(png.length > 20_000, `a real picture, not a blank page (${png.length} bytes)`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('svgToPng draws text: a system font is found (DejaVu Sans on Debian)', async () => {
  const page = (body: string) => `<svg xmlns="http://www.w3.org/2000/svg" width="200" height="60">${body}</svg>`;
  const blank = await svgToPng(page(''), 1);
  const text = await svgToPng(page('<text x="10" y="40" font-family="DejaVu Sans, sans-serif" font-size="30">Hello</text>'), 1);
  const unknownFamily = await svgToPng(page('<text x="10" y="40" font-family="No Such Font" font-size="30">Hello</text>'), 1);
  assert.notDeepEqual(Buffer.from(text), Buffer.from(blank));
  assert.notDeepEqual(Buffer.from(unknownFamily), Buffer.from(blank), 'an unknown family falls back to the default font');
});
