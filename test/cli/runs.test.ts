/**
 * Experiment records: `seqrec train` and `seqrec bench` write one schema-valid record per run
 * (the data file's real SHA-256, the resolved model config, the metrics printed), `seqrec runs`
 * lists and sorts them, `--runs-dir none` writes none, and a damaged record is an error
 * naming its file.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { readRunRecords } from '../../src/cli/run-records.js';
import { generateSynthetic } from '../../src/data/synthetic.js';
import { runCli, tempDir } from '../serve/helpers.js';

let root: string;
let data: string;
const FLAGS = ['--format', 'sequence', '--min-count', '0', '--max-len', '6', '--dim', '8', '--epochs', '2'];

async function cli(args: string[]): Promise<string> {
  const p = runCli(args, { SEQREC_PROGRESS: 'off' });
  assert.equal(await p.exited, 0, `seqrec ${args[0]} failed:\n${p.stderr()}`);
  return p.stdout();
}

before(async () => {
  root = await tempDir('seqrec-runs-');
  const log = generateSynthetic({ numUsers: 120, numItems: 40, numClusters: 4, minLength: 4, maxLength: 12, seed: 2 });
  data = join(root, 'tiny.txt');
  await writeFile(data, log.sequences.map((s) => `${s.user} ${s.items.join(' ')}`).join('\n') + '\n');
});
after(() => rm(root, { recursive: true, force: true }));

describe('run records', () => {
  it('train and bench write records that seqrec runs compares', async () => {
    const dir = join(root, 'runs');
    await cli(['train', '--data', data, ...FLAGS, '--runs-dir', dir]);
    await cli(['bench', '--data', data, ...FLAGS, '--models', 'mostpopular,itemknn', '--runs-dir', dir]);
    await cli(['train', '--data', data, ...FLAGS, '--runs-dir', 'none']);
    const records = await readRunRecords(dir);
    assert.deepEqual(records.map((r) => `${r.command} ${r.model}`).sort(), ['bench itemknn', 'bench mostpopular', 'train gru4rec']);
    const sha = createHash('sha256')
      .update(await readFile(data))
      .digest('hex');
    for (const r of records) assert.equal(r.data.sha256, sha, r.id);
    const trained = records.find((r) => r.command === 'train')!;
    assert.equal((trained.config.model as { embeddingDim: number }).embeddingDim, 8);
    assert.equal(trained.epochs, 2);
    assert.ok(trained.test['recall@50'] >= 0 && trained.test['recall@50'] <= 1);
    assert.match(trained.seqrec, /^\d+\.\d+\.\d+/);

    const table = await cli(['runs', '--dir', dir, '--sort', 'test recall@50']);
    const lines = table.trim().split('\n').slice(2);
    assert.equal(lines.length, 3);
    const r50 = lines.map((l) => Number(l.split('|')[8]));
    assert.deepEqual(
      r50,
      [...r50].sort((a, b) => b - a),
      'sorted best first',
    );
    for (const r of records) assert.ok(table.includes(r.id), r.id);
    // Each row names the CPU its seconds were measured on.
    for (const l of lines) assert.equal(l.split('|')[12].trim(), records[0].cpu);
    const only = await cli(['runs', '--dir', dir, '--model', 'itemknn', '--json']);
    assert.deepEqual(
      only
        .trim()
        .split('\n')
        .map((l) => (JSON.parse(l) as { model: string }).model),
      ['itemknn'],
    );
  });

  it('session-parallel training writes a record too, with its test metrics', async () => {
    const dir = join(root, 'sessions-runs');
    const sessions = join(root, 'sessions.txt');
    const lines = Array.from({ length: 60 }, (_, s) => `s${s} ${Array.from({ length: 4 + (s % 5) }, (_, i) => `i${(s * 7 + i * 3) % 40}`).join(' ')}`);
    await writeFile(sessions, lines.join('\n') + '\n');
    const printed = await cli([
      'train',
      '--mode',
      'session-parallel',
      '--data',
      sessions,
      '--test',
      sessions,
      '--dim',
      '8',
      '--epochs',
      '2',
      '--batch',
      '8',
      '--runs-dir',
      dir,
    ]);
    const [record] = await readRunRecords(dir);
    assert.equal(record.model, 'gru4rec');
    assert.equal(record.epochs, 2);
    assert.equal((record.config.settings as { mode: string }).mode, 'session-parallel');
    const row = printed
      .split('\n')
      .find((l) => /^gru4rec\s+[0-9]/.test(l))!
      .trim()
      .split(/\s+/);
    assert.equal(record.test['recall@20'].toFixed(4), row[5]);
  });

  it('a damaged record is an error naming the file', async () => {
    const dir = join(root, 'bad');
    await cli(['bench', '--data', data, ...FLAGS, '--models', 'mostpopular', '--runs-dir', dir]);
    const [name] = await readdir(dir);
    const record = JSON.parse(await readFile(join(dir, name), 'utf8')) as Record<string, unknown>;
    await writeFile(join(dir, name), JSON.stringify({ ...record, epochz: 1 }));
    await assert.rejects(readRunRecords(dir), (e: Error) => e.message.includes(name) && /epochz/.test(e.message));
  });
});
