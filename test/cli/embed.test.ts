/**
 * `seqrec embed` as users run it (a child process) on tiny trained models: the Parquet and
 * JSONL files hold, for every user, exactly `Recommender.userEmbedding` of its history (all K
 * interests of a multi-interest model), and every item's vector.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { asyncBufferFromFile, parquetMetadataAsync, parquetReadObjects } from 'hyparquet';
import { loadModel, saveModel } from '../../src/bundle/checkpoint.js';
import { generateSynthetic } from '../../src/data/synthetic.js';
import { Recommender } from '../../src/serve/recommender.js';
import { setupBackend } from '../helpers.js';
import { runCli, tempDir } from '../serve/helpers.js';

let root: string;
let dataFile: string;
let histories: Map<string, string[]>;
const MAX_LEN = 6;
const DATA_FLAGS = ['--format', 'sequence', '--min-count', '0', '--max-len', String(MAX_LEN)];

async function train(model: string): Promise<string> {
  const out = join(root, model);
  const p = runCli(['train', '--data', dataFile, ...DATA_FLAGS, '--model', model, '--dim', '8', '--epochs', '1', '--out', out]);
  assert.equal(await p.exited, 0, `seqrec train failed:\n${p.stderr()}`);
  return out;
}

async function embed(args: string[]): Promise<string> {
  const p = runCli(['embed', ...args], { SEQREC_PROGRESS: 'off' });
  assert.equal(await p.exited, 0, `seqrec embed failed:\n${p.stderr()}`);
  return p.stderr();
}

async function readParquet(path: string): Promise<{ rows: Record<string, unknown>[]; metadata: Record<string, string | undefined> }> {
  const file = await asyncBufferFromFile(path);
  const meta = await parquetMetadataAsync(file);
  const metadata = Object.fromEntries((meta.key_value_metadata ?? []).map((kv) => [kv.key, kv.value]));
  return { rows: await parquetReadObjects({ file }), metadata };
}

async function readJsonl(path: string): Promise<Record<string, unknown>[]> {
  return (await readFile(path, 'utf8'))
    .trimEnd()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

/** Float32 values of a decoded vector (numbers, possibly doubles printed from float32). */
const f32 = (v: unknown): number[] => Array.from(Float32Array.from(v as number[]));

/** Every user's row equals Recommender.userEmbedding of its history (its last MAX_LEN items). */
function checkUsers(rec: Recommender, rows: Record<string, unknown>[]): void {
  assert.equal(rows.length, histories.size);
  assert.deepEqual(
    rows.map((r) => r.user),
    [...histories.keys()],
  );
  for (const row of rows) {
    const expected = Array.from(rec.userEmbedding(histories.get(row.user as string)!.slice(-MAX_LEN)));
    assert.deepEqual(f32(row.vector), expected, `user ${String(row.user)}`);
  }
}

before(async () => {
  await setupBackend();
  root = await tempDir('seqrec-embed-');
  // 203 users: not a multiple of the batch, so the last batch is partial.
  const log = generateSynthetic({ numUsers: 203, numItems: 60, numClusters: 4, minLength: 3, maxLength: 15, seed: 3 });
  dataFile = join(root, 'tiny.txt');
  await writeFile(dataFile, log.sequences.map((s) => `${s.user} ${s.items.join(' ')}`).join('\n') + '\n');
  histories = new Map(log.sequences.map((s) => [s.user, s.items]));
});
after(() => rm(root, { recursive: true, force: true }));

describe('seqrec embed', () => {
  it('gru4rec: Parquet and JSONL users equal Recommender.userEmbedding; items equal the item table', async () => {
    const bundle = await train('gru4rec');
    const rec = await Recommender.load(bundle);
    try {
      const out = join(root, 'users.parquet');
      const logText = await embed(['--model', bundle, '--out', out, '--batch', '50']);
      assert.match(logText, /wrote 203 users \(1 x 8 floats each\)/);
      const users = await readParquet(out);
      checkUsers(rec, users.rows);
      assert.equal(users.metadata['seqrec.interests'], '1');
      assert.equal(users.metadata['seqrec.dim'], '8');
      assert.ok(!existsSync(`${out}.partial`));

      const loaded = await loadModel(bundle);
      const table = loaded.model.itemEmbeddings().dataSync();
      const items = await readParquet(join(root, 'users.items.parquet'));
      assert.deepEqual(
        items.rows.map((r) => r.item),
        loaded.vocabulary!.items(),
      );
      items.rows.forEach((r, i) => assert.deepEqual(f32(r.vector), Array.from(table.subarray((i + 1) * 8, (i + 2) * 8))));
      loaded.model.dispose();

      // JSONL from a plain checkpoint with --data, items to a named file.
      const ckpt = join(root, 'ckpt');
      const again = await loadModel(bundle);
      await saveModel(again.model, ckpt, { vocabulary: again.vocabulary! });
      again.model.dispose();
      const jsonl = join(root, 'u.jsonl');
      await embed(['--model', ckpt, '--data', dataFile, ...DATA_FLAGS, '--out', jsonl, '--items-out', join(root, 'i.jsonl')]);
      checkUsers(rec, await readJsonl(jsonl));
      assert.deepEqual(
        (await readJsonl(join(root, 'i.jsonl'))).map((r) => f32(r.vector)),
        items.rows.map((r) => f32(r.vector)),
      );
    } finally {
      rec.dispose();
    }
  });

  it('comirec-sa: every user row holds all K interest vectors, equal to Recommender.userEmbedding', async () => {
    const bundle = await train('comirec-sa');
    const rec = await Recommender.load(bundle);
    try {
      const out = join(root, 'sa.parquet');
      await embed(['--model', bundle, '--out', out, '--engine', 'duckdb']);
      const users = await readParquet(out);
      const K = Number(users.metadata['seqrec.interests']);
      assert.ok(K > 1, `K = ${K}`);
      assert.equal((users.rows[0].vector as number[]).length, K * 8);
      checkUsers(rec, users.rows);
    } finally {
      rec.dispose();
    }
  });

  it('refuses an output it cannot name a format for, before reading anything', async () => {
    const p = runCli(['embed', '--model', join(root, 'missing'), '--out', join(root, 'users.csv')]);
    assert.equal(await p.exited, 1);
    assert.match(p.stderr(), /--out .*users\.csv: the file name must end in \.parquet or \.jsonl/);
  });
});
