/**
 * `seqrec train --save-optimizer --out DIR` puts Adam's state in the bundle, and
 * `seqrec train --from DIR` continues it and says so; without --save-optimizer the warm start
 * says Adam starts afresh. In process (runTrain), on a tiny log.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { exportCommand } from '../../src/cli/commands/export.js';
import { runTrain } from '../../src/cli/commands/train.js';
import type { StringFlags } from '../../src/cli/flags.js';
import { loadModel } from '../../src/bundle/checkpoint.js';
import { OPTIMIZER_FILES } from '../../src/bundle/optimizer-state.js';
import { setupBackend } from '../helpers.js';

let dir: string;
const lines = (n: number, k: number) => Array.from({ length: n }, (_, u) => `${u + 1} ${Array.from({ length: 8 }, (_, i) => ((u + i) % k) + 1).join(' ')}`);

async function train(flags: Record<string, string | boolean>): Promise<string[]> {
  const out: string[] = [];
  const write = process.stdout.write;
  process.stdout.write = (() => true) as typeof process.stdout.write; // the metric table
  try {
    await runTrain({ epochs: '1', dim: '4', batch: '16', maxLen: '4', runsDir: 'none', ...flags } as StringFlags, (l) => out.push(l));
  } finally {
    process.stdout.write = write;
  }
  return out;
}

before(async () => {
  await setupBackend();
  dir = await mkdtemp(join(tmpdir(), 'seqrec-train-warm-'));
  await writeFile(join(dir, 'day1.txt'), lines(40, 10).join('\n') + '\n');
  // Day 2: more users, two new items (11, 12).
  await writeFile(join(dir, 'day2.txt'), [...lines(40, 10), ...lines(10, 12)].join('\n') + '\n');
});
after(() => rm(dir, { recursive: true, force: true }));

describe('seqrec train --save-optimizer / --from', () => {
  it('saves the state with --out and continues it with --from; a bundle without it starts afresh, saying so', async () => {
    const parent = join(dir, 'parent');
    const bare = join(dir, 'bare');
    await train({ data: join(dir, 'day1.txt'), out: parent, saveOptimizer: true });
    await train({ data: join(dir, 'day1.txt'), out: bare });
    const a = await loadModel(parent);
    a.model.dispose();
    assert.ok(a.files[OPTIMIZER_FILES.header] && a.files[OPTIMIZER_FILES.data]);
    const b = await loadModel(bare);
    b.model.dispose();
    assert.equal(b.files[OPTIMIZER_FILES.header], undefined);

    const warm = await train({ data: join(dir, 'day2.txt'), from: parent, out: join(dir, 'child'), saveOptimizer: true });
    assert.ok(
      warm.some((l) => /Adam continues from the parent's state at step \d+ \(the 2 new item rows start at zero moments\)/.test(l)),
      warm.join('\n'),
    );
    const fresh = await train({ data: join(dir, 'day2.txt'), from: bare });
    assert.ok(
      fresh.some((l) => /saved without optimizer state.*Adam starts afresh/.test(l)),
      fresh.join('\n'),
    );
    await assert.rejects(train({ data: join(dir, 'day1.txt'), saveOptimizer: true }), /--save-optimizer .* give --out DIR/);
    await assert.rejects(train({ data: join(dir, 'day2.txt'), mode: 'session-parallel', from: parent }), /--from \(a warm start\) applies to window mode/);
    // seqrec export carries the state into the new bundle.
    const copy = join(dir, 'copy');
    await exportCommand.prepare({ model: parent, out: copy }).run(() => {});
    const c = await loadModel(copy);
    c.model.dispose();
    for (const name of Object.values(OPTIMIZER_FILES)) assert.deepEqual(c.files[name], a.files[name], name);
  });
});
