/**
 * `seqrec train`'s defaults (issue #16, "Defaults that work on the first run"): the
 * samples-per-user rule, the ComiRec preset that restores the paper's recipe, and the
 * resolution after the split. Unit tests of the rule, no training.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { AUTO_MAX_SAMPLES_PER_USER, AUTO_MIN_STEPS, autoSamplesPerUser, TRAIN_FLAGS, windowDefaults } from '../../src/cli/commands/train-flags.js';
import { buildDataset, dataSettings } from '../../src/cli/dataset.js';
import { parseFlags } from '../../src/cli/flags.js';
import { TRAINING_FLAGS } from '../../src/cli/shared-flags.js';

const parse = (raw: Record<string, string>) => parseFlags(TRAIN_FLAGS, { data: 'x.txt', ...raw });

describe('seqrec train: --samples-per-user auto', () => {
  it('gives an epoch of at least AUTO_MIN_STEPS Adam steps, capped per user', () => {
    assert.equal(AUTO_MIN_STEPS, 200);
    assert.equal(AUTO_MAX_SAMPLES_PER_USER, 10);
    // ml-1m: 4,832 train users -> 11 wanted, capped at 10 (189 steps of 256).
    assert.equal(autoSamplesPerUser(4832, 256), 10);
    // amazon-beauty: 17,890 train users -> 3 (210 steps).
    assert.equal(autoSamplesPerUser(17890, 256), 3);
    // A large log already has 200 steps with one sample per user.
    assert.equal(autoSamplesPerUser(51200, 256), 1);
    assert.equal(autoSamplesPerUser(1_000_000, 256), 1);
    // A tiny one is capped; a smaller batch needs fewer samples.
    assert.equal(autoSamplesPerUser(50, 256), 10);
    assert.equal(autoSamplesPerUser(17890, 64), 1);
    assert.equal(autoSamplesPerUser(0, 256), 1);
    for (const users of [100, 4832, 17890, 30000]) {
      const n = autoSamplesPerUser(users, 256);
      assert.ok(n === AUTO_MAX_SAMPLES_PER_USER || Math.ceil((n * users) / 256) >= AUTO_MIN_STEPS, `${users} users`);
    }
  });

  it('is the default; a number or auto may be given', () => {
    assert.deepEqual(windowDefaults(parse({})), { samplesPerUser: 'auto', patience: 5 });
    assert.equal(windowDefaults(parse({ samplesPerUser: 'auto' })).samplesPerUser, 'auto');
    assert.equal(windowDefaults(parse({ samplesPerUser: '4' })).samplesPerUser, 4);
    assert.throws(() => parse({ samplesPerUser: '0' }), /--samples-per-user must be auto or an integer >= 1/);
    assert.throws(() => parse({ samplesPerUser: 'some' }), /--samples-per-user must be auto/);
  });

  it('--preset comirec restores ComiRec: 1 sample per train user, patience 5; given flags override', () => {
    assert.deepEqual(windowDefaults(parse({ preset: 'comirec' })), { samplesPerUser: 1, patience: 5 });
    assert.deepEqual(windowDefaults(parse({ preset: 'comirec', samplesPerUser: '3', patience: '7' })), { samplesPerUser: 3, patience: 7 });
  });

  it('leaves the shared flag (bench, eval, export) at 1 sample per user', async () => {
    const { DATA_FLAGS } = await import('../../src/cli/shared-flags.js');
    assert.equal(parseFlags(DATA_FLAGS, { data: 'x.txt' }).samplesPerUser, 1);
    assert.equal(parseFlags(TRAINING_FLAGS, {}).patience, 5);
  });

  it('is resolved after the split and recorded in the settings', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'seqrec-defaults-'));
    try {
      const file = join(dir, 'log.txt');
      // 40 users of 8 items each over 10 items: 32 train users -> wants 1,600 per user, capped at 10.
      await writeFile(
        file,
        Array.from({ length: 40 }, (_, u) => `${u + 1} ${Array.from({ length: 8 }, (_, i) => ((u + i) % 10) + 1).join(' ')}`).join('\n') + '\n',
      );
      const settings = dataSettings({ ...parse({}), data: file, samplesPerUser: 1 });
      const lines: string[] = [];
      const dataset = await buildDataset(settings, (m) => lines.push(m), { samplesPerUser: (users) => autoSamplesPerUser(users, 256) });
      assert.equal(dataset.options.samplesPerUser, 10);
      assert.equal(settings.dataset.samplesPerUser, 10);
      assert.equal(dataset.trainSamplesPerEpoch(), dataset.trainUsers.length * 10);
      assert.match(lines.join('\n'), /--samples-per-user auto: 10/);
      // Without the rule (--preset comirec, bench): one per user.
      const comirec = dataSettings({ ...parse({}), data: file, samplesPerUser: 1 });
      const one = await buildDataset(comirec, () => {});
      assert.equal(one.options.samplesPerUser, 1);
      assert.deepEqual([...one.trainUsers], [...dataset.trainUsers], 'same split');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
