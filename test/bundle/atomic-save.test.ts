/**
 * Issue #14 items 6 and 7: saves are atomic at every instant. In-process, a reader polling
 * between the awaits of a save must always find a complete model; out of process, `kill -9`
 * at random points (bench/faults.ts, a handful of kills per scenario here; `npm run
 * bench:faults` runs 50) must always leave a loadable previous or new bundle and, after the
 * next normal run, no leftovers.
 */
import assert from 'node:assert/strict';
import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { SequenceDataset } from '../../src/data/dataset.js';
import type { GRU4Rec } from '../../src/models/gru4rec.js';
import { exportBundle, loadBundle } from '../../src/bundle/bundle.js';
import { loadModel, saveModel } from '../../src/bundle/checkpoint.js';
import { runScenario, SCENARIOS } from '../../bench/faults.js';
import { tempDir, trainTinyModel } from '../serve/helpers.js';

let root: string;
let a: { model: GRU4Rec; dataset: SequenceDataset };
let b: { model: GRU4Rec; dataset: SequenceDataset };

before(async () => {
  root = await tempDir('seqrec-atomic-');
  a = await trainTinyModel({ seed: 1, epochs: 1 });
  b = await trainTinyModel({ seed: 2, epochs: 1 });
});
after(async () => {
  a.model.dispose();
  b.model.dispose();
  await rm(root, { recursive: true, force: true });
});

/** Runs `write` while a reader loads `dir` at every turn of the event loop; returns the reader's failures. */
async function pollDuring(
  dir: string,
  load: (d: string) => Promise<{ model: { dispose(): void } }>,
  write: () => Promise<void>,
  minReads = 5,
): Promise<string[]> {
  const failures: string[] = [];
  let done = false;
  let reads = 0;
  const reader = (async () => {
    while (!done) {
      try {
        (await load(dir)).model.dispose();
      } catch (err) {
        failures.push((err as Error).message);
      }
      reads++;
      await new Promise((r) => setImmediate(r));
    }
  })();
  try {
    await write();
  } finally {
    done = true;
    await reader;
  }
  assert.ok(reads >= minReads, `only ${reads} reads`);
  return failures;
}

describe('atomic saves', () => {
  it('saveModel over an existing checkpoint: a reader always finds a complete model (item 6)', async () => {
    const dir = join(root, 'ckpt');
    await saveModel(a.model, dir, { vocabulary: a.dataset.vocabulary });
    const failures = await pollDuring(dir, loadModel, async () => {
      for (let i = 0; i < 12; i++) {
        const m = i % 2 ? a : b;
        await saveModel(m.model, dir, { vocabulary: m.dataset.vocabulary, meta: { i } });
      }
    });
    assert.deepEqual(failures.slice(0, 3), []);
    // The current and one previous version, nothing else.
    const entries = (await readdir(dir)).sort();
    assert.equal(entries.filter((n) => /^v\d+$/.test(n)).length, 2, entries.join(' '));
    assert.deepEqual(
      entries.filter((n) => !/^v\d+$/.test(n)),
      ['CURRENT'],
    );
  });

  it('exportBundle over an existing bundle: there is always a bundle at the path, no .partial/.old leftovers (item 7)', async () => {
    const dir = join(root, 'bundle');
    const opts = (m: typeof a) => ({ vocabulary: m.dataset.vocabulary, popularity: m.dataset.itemPopularity() });
    await exportBundle(a.model, dir, opts(a));
    const failures = await pollDuring(dir, loadBundle, async () => {
      for (let i = 0; i < 12; i++) await exportBundle((i % 2 ? a : b).model, dir, opts(i % 2 ? a : b));
    });
    assert.deepEqual(failures.slice(0, 3), []);
    assert.deepEqual(
      (await readdir(root)).filter((n) => n.startsWith('.')),
      [],
    );
  });

  it('saves racing into one directory: the last commit wins and the directory always loads', async () => {
    const dir = join(root, 'race');
    await saveModel(a.model, dir, { vocabulary: a.dataset.vocabulary });
    const failures = await pollDuring(
      dir,
      loadModel,
      async () => {
        // Rounds of 8 at once: each save's cleanup runs while others commit (a version committed
        // after a save's commit must survive that save's cleanup).
        for (let round = 0; round < 6; round++) {
          await Promise.all(
            Array.from({ length: 8 }, (_, i) => saveModel((i % 2 ? a : b).model, dir, { vocabulary: (i % 2 ? a : b).dataset.vocabulary, meta: { i } })),
          );
          (await loadModel(dir)).model.dispose();
        }
      },
      1,
    );
    assert.deepEqual(failures.slice(0, 3), []);
    (await loadModel(dir)).model.dispose();
    // One more save cleans whatever the race left.
    await saveModel(a.model, dir, { vocabulary: a.dataset.vocabulary });
    assert.ok((await readdir(dir)).length <= 3);
  });

  it("the next save removes every kind of debris a kill leaves, and nothing that is not seqrec's", async () => {
    const dir = join(root, 'debris');
    await saveModel(a.model, dir, { vocabulary: a.dataset.vocabulary });
    const dead = 999_999_999; // no such process
    const marker = JSON.stringify({ format: 'seqrec-dir', pid: dead });
    await mkdir(join(dir, `.seqrec-tmp-${dead}-0000000a`)); // killed between mkdir and the marker
    await mkdir(join(dir, `.seqrec-tmp-${dead}-0000000b`));
    await writeFile(join(dir, `.seqrec-tmp-${dead}-0000000b`, '.seqrec'), marker);
    await writeFile(join(dir, `.seqrec-tmp-${dead}-0000000b`, 'weights.bin'), 'half');
    await writeFile(join(dir, `.CURRENT.tmp-${dead}-0000000c`), '{"form');
    await mkdir(join(dir, `.seqrec-trash-${dead}-0000000d`)); // a removal cut short (marker already gone)
    await writeFile(join(dir, `.seqrec-trash-${dead}-0000000d`, 'weights.bin'), 'x');
    await mkdir(join(dir, 'v000099')); // renamed into place, never committed
    await writeFile(join(dir, 'v000099', '.seqrec'), marker);
    // Look-alikes that are not seqrec's: kept.
    await mkdir(join(dir, `.seqrec-tmp-${dead}-0000000e`));
    await writeFile(join(dir, `.seqrec-tmp-${dead}-0000000e`, 'thesis.tex'), 'mine');
    await mkdir(join(dir, 'v000098'));
    await writeFile(join(dir, 'v000098', 'photo.jpg'), 'mine');
    await writeFile(join(dir, 'NOTES.md'), 'mine');
    await saveModel(b.model, dir, { vocabulary: b.dataset.vocabulary });
    const left = (await readdir(dir)).sort();
    assert.deepEqual(left, ['.seqrec-tmp-999999999-0000000e', 'CURRENT', 'NOTES.md', 'v000001', 'v000098', 'v000100']);
    (await loadModel(dir)).model.dispose();
  });

  it('keeps files seqrec did not write, and refuses a foreign directory (item 8, library side)', async () => {
    const dir = join(root, 'notes');
    await exportBundle(a.model, dir, { vocabulary: a.dataset.vocabulary, popularity: a.dataset.itemPopularity() });
    await writeFile(join(dir, 'NOTES.md'), 'mine');
    await saveModel(b.model, dir, { vocabulary: b.dataset.vocabulary });
    await exportBundle(b.model, dir, { vocabulary: b.dataset.vocabulary, popularity: b.dataset.itemPopularity() });
    assert.ok((await readdir(dir)).includes('NOTES.md'));
    const foreign = join(root, 'foreign');
    await mkdir(foreign);
    await writeFile(join(foreign, 'thesis.tex'), 'x');
    await assert.rejects(saveModel(a.model, foreign, { vocabulary: a.dataset.vocabulary }), /not empty and holds no seqrec model/);
    assert.deepEqual(await readdir(foreign), ['thesis.tex']);
  });
});

describe('kill -9 at random points (a few per scenario; npm run bench:faults runs 50)', () => {
  const kills = Number(process.env.FAULTS_TEST_KILLS ?? 5);
  for (const scenario of SCENARIOS) {
    it(`${scenario}: ${kills} kills, always a loadable bundle, no leftovers after the next run`, { timeout: 240_000 }, async () => {
      const r = await runScenario(scenario, kills, join(root, `kill-${scenario}`));
      assert.equal(r.loadable, r.kills, r.notes.join('\n'));
      assert.equal(r.leftovers, 0, r.notes.join('\n'));
    });
  }
});
