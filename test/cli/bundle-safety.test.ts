/**
 * Issue #14 items 7 and 8 as users meet them on the command line: `train --out` never deletes
 * a file seqrec did not write, checks --out before training, needs --force to replace a
 * model; history.json is part of the atomic version; `export` onto itself keeps history.json
 * and the user's notes; `plot curves` does not write into the bundle.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { generateSynthetic } from '../../src/data/synthetic.js';
import { loadBundle } from '../../src/bundle/bundle.js';
import { loadModel } from '../../src/bundle/checkpoint.js';
import { setupBackend } from '../helpers.js';
import { fileIn } from '../bundle/bundle-files.js';
import { runCli, tempDir } from '../serve/helpers.js';

let root: string;
let dataFile: string;
let bundle: string;
const FLAGS = ['--format', 'sequence', '--min-count', '0', '--max-len', '10', '--dim', '8', '--batch', '64'];

async function train(out: string, extra: string[] = []): Promise<{ code: number | string; stderr: string; stdout: string }> {
  const p = runCli(['train', '--data', dataFile, ...FLAGS, '--epochs', '1', '--out', out, ...extra]);
  const code = await p.exited;
  return { code, stderr: p.stderr(), stdout: p.stdout() };
}

before(async () => {
  await setupBackend();
  root = await tempDir('seqrec-cli-safety-');
  const log = generateSynthetic({ numUsers: 200, numItems: 80, numClusters: 4, minLength: 8, maxLength: 16, seed: 4 });
  dataFile = join(root, 'tiny.txt');
  await writeFile(dataFile, log.sequences.map((s) => `${s.user} ${s.items.join(' ')}`).join('\n') + '\n');
  bundle = join(root, 'first');
  const r = await train(bundle);
  assert.equal(r.code, 0, r.stderr);
});
after(() => rm(root, { recursive: true, force: true }));

describe('train --out / export / plot keep what is not theirs', () => {
  it('history.json is written inside the atomic step and covered by a digest (item 7)', async () => {
    const manifest = JSON.parse(await readFile(fileIn(bundle, 'model.json'), 'utf8'));
    assert.ok(manifest.files['history.json'], 'history.json is listed in model.json files');
    assert.ok(existsSync(fileIn(bundle, 'history.json')));
    assert.ok(!existsSync(join(bundle, 'history.json')) || existsSync(join(bundle, 'CURRENT')) === false);
  });

  it('retraining keeps NOTES.md, is refused before training without --force, keeps the previous model (item 8)', async () => {
    await writeFile(join(bundle, 'NOTES.md'), 'ten epochs, lr 0.01');
    const t0 = Date.now();
    const refused = await train(bundle);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /already holds a seqrec model.*--force/);
    assert.doesNotMatch(refused.stderr, /epoch\s+1/, 'refused only after training');
    assert.ok(Date.now() - t0 < 20000);
    const before = JSON.parse(await readFile(fileIn(bundle, 'model.json'), 'utf8'));
    const forced = await train(bundle, ['--force', '--seed', '7']);
    assert.equal(forced.code, 0, forced.stderr);
    assert.equal(await readFile(join(bundle, 'NOTES.md'), 'utf8'), 'ten epochs, lr 0.01');
    const now = JSON.parse(await readFile(fileIn(bundle, 'model.json'), 'utf8'));
    assert.notEqual(now.files['weights.bin'].sha256, before.files['weights.bin'].sha256);
    const b = await loadBundle(bundle);
    b.model.dispose();
  });

  it('a foreign non-empty --out is refused at once, and left alone (item 8)', async () => {
    const foreign = join(root, 'thesis');
    await mkdir(foreign);
    await writeFile(join(foreign, 'chapter1.tex'), 'x');
    const r = await train(foreign, ['--force']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /not empty and holds no seqrec model/);
    assert.doesNotMatch(r.stderr, /epoch\s+1/);
    assert.deepEqual(await readdir(foreign), ['chapter1.tex']);
  });

  it('export of a bundle onto itself keeps history.json and NOTES.txt (item 7)', async () => {
    await writeFile(join(bundle, 'NOTES.txt'), 'notes');
    const history = await readFile(fileIn(bundle, 'history.json'), 'utf8');
    const p = runCli(['export', '--model', bundle, '--out', bundle]);
    assert.equal(await p.exited, 0, p.stderr());
    assert.equal(await readFile(join(bundle, 'NOTES.txt'), 'utf8'), 'notes');
    assert.equal(await readFile(fileIn(bundle, 'history.json'), 'utf8'), history);
    (await loadBundle(bundle)).model.dispose();
  });

  it('a flat bundle of seqrec 0.1 is refused until re-exported in place, which keeps the user files', async () => {
    const flat = join(root, 'flat');
    await mkdir(flat);
    for (const name of ['weights.bin', 'vocabulary.json', 'popularity.json', 'history.json']) {
      await writeFile(join(flat, name), await readFile(fileIn(bundle, name)));
    }
    // seqrec 0.1 wrote no cold-start files: its model.json lists none.
    const manifest = JSON.parse(await readFile(fileIn(bundle, 'model.json'), 'utf8'));
    for (const name of ['recent-popularity.json', 'cooccurrence.bin']) delete manifest.files[name];
    delete manifest.bundle.recentPopularity;
    delete manifest.bundle.cooccurrence;
    await writeFile(join(flat, 'model.json'), JSON.stringify(manifest, null, 2));
    await writeFile(join(flat, 'NOTES.md'), 'mine');
    await assert.rejects(loadBundle(flat), /model\.json: no digest covers it .*re-export/);
    const p = runCli(['export', '--model', flat, '--out', flat]);
    assert.equal(await p.exited, 0, p.stderr());
    const entries = (await readdir(flat)).sort();
    assert.deepEqual(entries, ['CURRENT', 'NOTES.md', 'v000001']);
    assert.ok(existsSync(fileIn(flat, 'history.json')));
    (await loadBundle(flat)).model.dispose();
  });

  it('plot curves --model does not write into the bundle (item 8)', async () => {
    const entries = (await readdir(bundle)).sort();
    const p = runCli(['plot', 'curves', '--model', bundle]);
    assert.equal(await p.exited, 0, p.stderr());
    assert.deepEqual((await readdir(bundle)).sort(), entries);
    const [svg, png] = p.stdout().trim().split('\n');
    for (const f of [svg, png]) {
      assert.ok(existsSync(f), f);
      assert.ok(!f.startsWith(bundle + '/'), `${f} is inside the bundle`);
    }
    assert.equal(dirname(svg), join(root, 'first.plots'));
  });

  it('train --mode session-parallel --out saves atomically too (item 6)', async () => {
    const sessions = join(root, 'sessions.txt');
    const lines: string[] = [];
    for (let s = 0; s < 60; s++) lines.push(`s${s} ${Array.from({ length: 4 + (s % 5) }, (_, i) => `i${(s * 7 + i * 3) % 40}`).join(' ')}`);
    await writeFile(sessions, lines.join('\n') + '\n');
    const out = join(root, 'sp');
    for (const extra of [[], ['--force']]) {
      const p = runCli(['train', '--mode', 'session-parallel', '--data', sessions, '--dim', '8', '--epochs', '1', '--batch', '8', '--out', out, ...extra]);
      assert.equal(await p.exited, 0, p.stderr());
    }
    assert.ok(existsSync(join(out, 'CURRENT')));
    (await loadModel(out)).model.dispose();
  });
});
