/**
 * Issue #14 items 3, 5 and 9: every file a bundle names stays inside it and is digest-checked,
 * only regular files are opened, and model.json is covered by a digest and a strict schema.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { constants, openSync, closeSync } from 'node:fs';
import { cp, mkdir, readdir, readFile, rm, symlink, unlink, writeFile } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { SequenceDataset } from '../../src/data/dataset.js';
import { SeqrecError } from '../../src/errors.js';
import type { GRU4Rec } from '../../src/models/gru4rec.js';
import { exportBundle, loadBundle } from '../../src/bundle/bundle.js';
import { loadModel } from '../../src/bundle/checkpoint.js';
import { editManifestOnly, fileIn, filesDir, rewriteJsonFile, rewriteManifest } from './bundle-files.js';
import { tempDir, trainTinyModel } from '../serve/helpers.js';

let root: string;
let good: string;
let model: GRU4Rec;
let dataset: SequenceDataset;

before(async () => {
  root = await tempDir('seqrec-integrity-');
  ({ model, dataset } = await trainTinyModel({ seed: 3, epochs: 1 }));
  good = join(root, 'good');
  await exportBundle(model, good, { vocabulary: dataset.vocabulary, popularity: dataset.itemPopularity(), popularitySource: 'tiny' });
});
after(async () => {
  model.dispose();
  await rm(root, { recursive: true, force: true });
});

let copies = 0;
async function copy(): Promise<string> {
  const dir = join(root, `copy-${copies++}`);
  await cp(good, dir, { recursive: true });
  return dir;
}

/** Asserts a `bundle_invalid` SeqrecError matching `message` that names no absolute path and quotes no file. */
async function rejectsCleanly(p: Promise<unknown>, message: RegExp, label?: string): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof SeqrecError, `${label}: not a SeqrecError: ${String(err)}`);
    assert.equal(err.code, 'bundle_invalid', `${label}: ${err.message}`);
    assert.match(err.message, message, label);
    assert.ok(!err.message.includes(root), `${label}: the message names an absolute path: ${err.message}`);
    assert.ok(!/root:x:0:0/.test(err.message), `${label}: the message quotes /etc/passwd`);
    assert.ok(!err.file || !err.file.startsWith('/'), `${label}: err.file is absolute: ${err.file}`);
    return true;
  });
}

describe('model.json integrity (item 9)', () => {
  it('rejects edits that used to load silently: a bit of maxLen, an offset +1, swapped weight names', async () => {
    const flip = await copy();
    await editManifestOnly(flip, (t) => t.replace('"maxLen": 10', '"maxLen": 11'));
    await rejectsCleanly(loadBundle(flip), /model\.json/, 'maxLen bit');

    const shift = await copy();
    await rewriteManifest(shift, (m) => (m.weights[1].offset += 1));
    await rejectsCleanly(loadBundle(shift), /model\.json: weights\[1\]\.offset/, 'offset +1');
    const shiftNoDigest = await copy();
    await editManifestOnly(shiftNoDigest, (t) => t.replace(/"offset": (\d+)/g, (s, n) => (n === '0' ? s : `"offset": ${Number(n) + 1}`)));
    await rejectsCleanly(loadBundle(shiftNoDigest), /model\.json/, 'offset +1, no re-digest');

    const swap = await copy();
    await rewriteManifest(swap, (m) => {
      const same = m.weights.findIndex((w: any, i: number) => i > 0 && m.weights.some((v: any, j: number) => j !== i && v.shape.join() === w.shape.join()));
      assert.ok(same > 0, 'two weights of one shape');
      const other = m.weights.findIndex((v: any, j: number) => j !== same && v.shape.join() === m.weights[same].shape.join());
      [m.weights[same].name, m.weights[other].name] = [m.weights[other].name, m.weights[same].name];
    });
    await rejectsCleanly(loadBundle(swap), /model\.json: weights\[\d+\]\.name/, 'swapped names');
  });

  it('requires the digests: deleting "files" does not turn checks off', async () => {
    const dir = await copy();
    await rewriteManifest(dir, (m) => delete m.files);
    await rejectsCleanly(loadBundle(dir), /model\.json: files: /, 'no files');
    await rejectsCleanly(loadModel(dir), /model\.json: files: /, 'no files (checkpoint)');
    const partial = await copy();
    await rewriteManifest(partial, (m) => delete m.files['vocabulary.json']);
    await rejectsCleanly(loadBundle(partial), /vocabulary\.json: not covered by a digest/, 'vocabulary not listed');
  });

  it('bounds every number and checks names with a clear error, never a crash in TF.js', async () => {
    const cases: [string, (m: any) => void, RegExp][] = [
      ['embeddingDim', (m) => (m.config.embeddingDim = 6_400_000), /config\.embeddingDim/],
      ['offset', (m) => (m.weights[1].offset = -5), /weights\[1\]\.offset/],
      ['maxLen', (m) => (m.config.maxLen = 1e12), /config\.maxLen/],
      ['itemCount', (m) => (m.config.itemCount = 2.5), /config\.itemCount/],
      ['shape', (m) => (m.weights[0].shape = [1e9, 1e9]), /weights\[0\]\.shape/],
      ['constructor', (m) => (m.model = 'constructor'), /model: unknown model 'constructor'/],
      ['__proto__', (m) => (m.model = '__proto__'), /model: unknown model '__proto__'/],
      ['unknown key', (m) => (m.extra = 1), /model\.json: .*extra/],
      ['weights.bin size', (m) => m.weights.pop(), /weights\.bin|weights/],
      ['bundle section key', (m) => (m.bundle.surprise = true), /bundle.*surprise/],
      ['file name', (m) => (m.files['../x'] = { bytes: 1, sha256: 'a'.repeat(64) }), /files/],
    ];
    for (const [label, edit, message] of cases) {
      const dir = await copy();
      await rewriteManifest(dir, edit);
      await rejectsCleanly(loadBundle(dir), message, label);
    }
  });

  it('refuses an extra field in model.json, its sections and vocabulary.json by name, with a did-you-mean hint', async () => {
    const cases: [string, (dir: string) => Promise<void>, RegExp, string][] = [
      ['top level', (d) => rewriteManifest(d, (m) => (m.metta = {})), /model\.json: unknown option 'metta' \(did you mean 'meta'\?\)/, 'metta'],
      [
        'config',
        (d) => rewriteManifest(d, (m) => (m.config.embedingDim = 8)),
        /unknown option 'embedingDim' \(did you mean 'embeddingDim'\?\) in config/,
        'config.embedingDim',
      ],
      [
        'bundle section',
        (d) => rewriteManifest(d, (m) => (m.bundle.similarty = 'ip')),
        /model\.json: bundle: unknown option 'similarty' \(did you mean 'similarity'\?\)/,
        'bundle.similarty',
      ],
      [
        'vocabulary.json',
        (d) => rewriteJsonFile(d, 'vocabulary.json', (v) => (v.itemz = [])),
        /vocabulary\.json: unknown option 'itemz' \(did you mean 'items'\?\)/,
        'itemz',
      ],
      [
        'popularity.json',
        (d) => rewriteJsonFile(d, 'popularity.json', (p) => (p.count = [])),
        /popularity\.json: unknown option 'count' \(did you mean 'counts'\?\)/,
        'count',
      ],
    ];
    for (const [label, edit, message, field] of cases) {
      const dir = await copy();
      await edit(dir);
      await rejectsCleanly(loadBundle(dir), message, label);
      await assert.rejects(loadBundle(dir), (e: unknown) => e instanceof SeqrecError && e.field === field, `${label}: field`);
    }
  });

  it('a flat directory (older seqrec) loads when model.json.sha256 verifies, else asks to re-export', async () => {
    const flat = join(root, 'flat');
    await mkdir(flat);
    const src = filesDir(good);
    for (const name of ['model.json', 'weights.bin', 'vocabulary.json', 'popularity.json']) await cp(join(src, name), join(flat, name));
    await rejectsCleanly(loadBundle(flat), /model\.json: no digest .*re-export/, 'flat without digest');
    const text = await readFile(join(flat, 'model.json'));
    await writeFile(join(flat, 'model.json.sha256'), createHash('sha256').update(text).digest('hex') + '\n');
    const b = await loadBundle(flat);
    b.model.dispose();
    await writeFile(join(flat, 'model.json'), text.toString('utf8').replace('"maxLen": 10', '"maxLen": 11'));
    await rejectsCleanly(loadBundle(flat), /model\.json: contents do not match/, 'flat edited');
  });
});

describe('files stay inside the bundle (item 3)', () => {
  it('refuses names with .., absolute paths and symlinked escapes, and quotes nothing', async () => {
    const passwd = '/etc/passwd';
    const outside = join(root, 'outside.json');
    await writeFile(outside, await readFile(fileIn(good, 'popularity.json')));
    for (const [label, name] of [
      ['dotdot', '../../../../etc/passwd'],
      ['absolute', passwd],
      ['subdir', 'a/popularity.json'],
    ] as const) {
      const dir = await copy();
      await rewriteManifest(dir, (m) => {
        m.bundle.popularity.file = name;
        m.files[name] = m.files['popularity.json'];
      });
      await rejectsCleanly(loadBundle(dir), /popularity|files/, label);
    }
    // Named correctly but a symlink to a file outside the bundle (same bytes, so the digest matches).
    const linked = await copy();
    await unlink(fileIn(linked, 'popularity.json'));
    await symlink(outside, fileIn(linked, 'popularity.json'));
    await rejectsCleanly(loadBundle(linked), /popularity\.json: .*symbolic link|popularity\.json: not a regular file/, 'symlink');
    // The pointer naming a version outside the directory.
    const escape = await copy();
    await writeFile(join(escape, 'CURRENT'), JSON.stringify({ ...JSON.parse(await readFile(join(escape, 'CURRENT'), 'utf8')), current: '../good' }));
    await rejectsCleanly(loadBundle(escape), /CURRENT/, 'pointer escape');
  });

  it('names bundle-relative files only when the directory is missing or damaged', async () => {
    await rejectsCleanly(loadBundle(join(root, 'nowhere')), /^nowhere: no such bundle directory/, 'missing');
    const dir = await copy();
    await rm(fileIn(dir, 'weights.bin'));
    await rejectsCleanly(loadBundle(dir), /^weights\.bin: /, 'no weights');
  });
});

describe('only regular files are opened (item 5, bundle side)', () => {
  const unblock = (path: string) => {
    try {
      closeSync(openSync(path, constants.O_WRONLY | constants.O_NONBLOCK));
    } catch {
      // nobody is reading it: nothing to unblock
    }
  };
  for (const name of ['model.json', 'weights.bin', 'popularity.json', 'CURRENT']) {
    it(`a FIFO ${name} fails at once instead of hanging`, { timeout: 10000 }, async () => {
      const dir = await copy();
      const path = name === 'CURRENT' ? join(dir, 'CURRENT') : fileIn(dir, name);
      await rm(path);
      execFileSync('mkfifo', [path]);
      const timer = setTimeout(() => unblock(path), 5000);
      try {
        const t0 = Date.now();
        await rejectsCleanly(loadBundle(dir), new RegExp(`${name.replace('.', '\\.')}: not a regular file`), name);
        assert.ok(Date.now() - t0 < 3000, 'took too long');
      } finally {
        clearTimeout(timer);
      }
    });
  }
  it('a directory where a file should be is refused by name', async () => {
    const dir = await copy();
    await rm(fileIn(dir, 'popularity.json'));
    await mkdir(fileIn(dir, 'popularity.json'));
    await rejectsCleanly(loadBundle(dir), /popularity\.json: not a regular file/, 'dir');
    assert.ok((await readdir(filesDir(dir))).includes('popularity.json'));
  });
});
