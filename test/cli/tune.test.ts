/**
 * `seqrec tune` as users run it: a search killed (SIGKILL, the whole process group) after its
 * first finished trial resumes with the same command, keeps the lines already written, and
 * runs every (trial, rung) exactly once; best.json holds arguments `seqrec train` accepts.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { generateSynthetic } from '../../src/data/synthetic.js';
import { tempDir } from '../serve/helpers.js';

const ROOT = resolve(import.meta.dirname, '../..');
let root: string;
let args: string[];

function tune(): { exited: Promise<number | null>; pid: number } {
  const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'src/cli/main.ts'), 'tune', ...args], {
    cwd: ROOT,
    detached: true,
    stdio: 'ignore',
    env: { ...process.env, SEQREC_PROGRESS: 'off' },
  });
  return { exited: new Promise((res) => child.on('exit', (code) => res(code))), pid: child.pid! };
}

const lines = async (file: string) => (existsSync(file) ? (await readFile(file, 'utf8')).split('\n').filter(Boolean) : []);

before(async () => {
  root = await tempDir('seqrec-tune-');
  const log = generateSynthetic({ numUsers: 120, numItems: 40, numClusters: 4, minLength: 4, maxLength: 12, seed: 4 });
  const data = join(root, 'tiny.txt');
  await writeFile(data, log.sequences.map((s) => `${s.user} ${s.items.join(' ')}`).join('\n') + '\n');
  const space = join(root, 'space.json');
  await writeFile(space, JSON.stringify({ lr: { log: [1e-3, 1e-2] }, dim: [8, 16], format: ['sequence'], 'min-count': [0], 'max-len': [6] }));
  args = ['--data', data, '--space', space, '--trials', '3', '--epochs', '3', '--min-epochs', '1', '--out', join(root, 'search')];
});
after(() => rm(root, { recursive: true, force: true }));

describe('seqrec tune', () => {
  it('a killed search resumes without repeating finished trials', async () => {
    const file = join(root, 'search', 'trials.jsonl');
    const first = tune();
    const t0 = Date.now();
    while ((await lines(file)).length < 1) {
      assert.ok(Date.now() - t0 < 120_000, 'no trial finished in 2 minutes');
      await new Promise((r) => setTimeout(r, 100));
    }
    process.kill(-first.pid, 'SIGKILL');
    await first.exited;
    const before = await lines(file);
    assert.ok(before.length >= 1 && before.length < 5, `${before.length} lines before the kill`);

    assert.equal(await tune().exited, 0);
    const after = await lines(file);
    assert.deepEqual(after.slice(0, before.length), before, 'finished lines are kept as they were');
    const keys = after.map((l) => {
      const r = JSON.parse(l) as { trial: number | string; rung: number; status: string };
      assert.equal(r.status, 'ok');
      return `${r.trial}/${r.rung}`;
    });
    // 3 configurations at 1 epoch, the best ceil(3/3) = 1 at 3 epochs, and the defaults.
    assert.deepEqual(keys.filter((k) => k.endsWith('/0')).sort(), ['0/0', '1/0', '2/0']);
    assert.equal(keys.filter((k) => /^\d+\/1$/.test(k)).length, 1);
    assert.ok(keys.includes('defaults/1'));
    assert.equal(keys.length, 5);
    assert.equal(new Set(keys).size, keys.length, 'no (trial, rung) twice');

    const best = JSON.parse(await readFile(join(root, 'search', 'best.json'), 'utf8')) as { args: string[] };
    assert.ok(best.args.includes('--lr') && best.args.includes('--dim'));
    // A different search in the same directory is refused.
    args = args.map((a) => (a === '3' ? '4' : a));
    assert.notEqual(await tune().exited, 0);
  });
});
