/**
 * `npm run bench:embed`: seconds and peak RSS of `seqrec embed` (a child process, as users run
 * it), by default on amazon-beauty (../shared/data/amazon-beauty/Beauty.txt, 22,363 users).
 *
 *   npm run bench:embed                      # trains a 1-epoch comirec-sa first (not measured)
 *   MODEL=runs/beauty npm run bench:embed    # an existing bundle trained on the same data
 *   SLICE=2000 npm run bench:embed           # the first 2,000 lines only (a quick check)
 *
 * Env: DATA (Beauty.txt), MODEL, SLICE, FORMAT (parquet|jsonl), ENGINE (memory|duckdb),
 * TRAIN_MODEL (comirec-sa), MIN_COUNT (5). Peak RSS is the child's maxRSS (getrusage), printed
 * by a hook the child loads before the CLI; a second run under --expose-gc samples the live
 * heap. A Parquet output is then read back with hyparquet and every user's vector compared with
 * `Recommender.userEmbedding` of its history, minus the items the model does not know (CHECK=0
 * skips this; it assumes the data flags drop no item the model knows, as when the model was
 * trained on the same file with the same flags).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { asyncBufferFromFile, parquetReadObjects } from 'hyparquet';
import { initBackend } from '../src/backend/index.js';
import { Recommender } from '../src/serve/recommender.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const env = process.env;
const data = resolve(env.DATA ?? join(ROOT, '../shared/data/amazon-beauty/Beauty.txt'));
const format = env.FORMAT ?? 'parquet';
const dataFlags = ['--format', 'sequence', '--min-count', env.MIN_COUNT ?? '5'];
const dir = mkdtempSync(join(tmpdir(), 'seqrec-bench-embed-'));
// Printed from the child's exit: its own peak resident set, whatever the CLI's exit path.
const HOOK = "process.on('exit', () => process.stderr.write(`\\nBENCH_MAXRSS_KB ${process.resourceUsage().maxRSS}\\n`));";
// A second run under --expose-gc: the live heap (after a full GC every 250 ms), peak and trace.
const LIVE_HOOK =
  'const t0 = Date.now(); let peak = 0; const trace = [];' +
  'setInterval(() => { globalThis.gc(); const mb = process.memoryUsage().heapUsed / 2 ** 20; peak = Math.max(peak, mb);' +
  ' trace.push(`${((Date.now() - t0) / 1000).toFixed(1)}s ${mb.toFixed(0)}`); }, 250).unref();' +
  "process.on('exit', () => process.stderr.write(`\\nBENCH_LIVE_MB ${peak.toFixed(0)} (${trace.join(', ')})\\n`));";

function cli(args: string[], measure: 'rss' | 'live' | null = null): { stderr: string; seconds: number } {
  const hook = (code: string) => ['--import', `data:text/javascript,${encodeURIComponent(code)}`];
  const pre = measure === 'rss' ? hook(HOOK) : measure === 'live' ? ['--expose-gc', ...hook(LIVE_HOOK)] : [];
  const t0 = performance.now();
  const r = spawnSync(process.execPath, [...pre, '--import', 'tsx', join(ROOT, 'src/cli/main.ts'), ...args], {
    cwd: ROOT,
    encoding: 'utf8',
    env: { ...env, SEQREC_PROGRESS: 'plain' },
    maxBuffer: 64 * 2 ** 20,
  });
  const seconds = (performance.now() - t0) / 1000;
  if (r.status !== 0) throw new Error(`seqrec ${args[0]} failed (${r.status}):\n${r.stderr}`);
  return { stderr: r.stderr, seconds };
}

/** Reads the Parquet back and compares every user's vector with Recommender.userEmbedding. */
async function checkReadBack(out: string, input: string, model: string): Promise<void> {
  const histories = new Map<string, string[]>();
  for (const line of readFileSync(input, 'utf8').split('\n')) {
    const [user, ...items] = line.trim().split(/\s+/);
    if (user && items.length) histories.set(user, items);
  }
  const rows = await parquetReadObjects({ file: await asyncBufferFromFile(out) });
  await initBackend();
  const rec = await Recommender.load(model);
  const maxLen = rec.info().maxLen;
  let differ = 0;
  for (const row of rows) {
    // The items the data filter kept are the model's vocabulary.
    const expected = rec.userEmbedding(
      histories
        .get(String(row.user))!
        .filter((id) => rec.hasItem(id))
        .slice(-maxLen),
    );
    const got = Float32Array.from(row.vector as number[]);
    if (got.length !== expected.length || got.some((v, i) => v !== expected[i])) differ++;
  }
  rec.dispose();
  console.log(`read back ${rows.length} users with hyparquet: ${differ} differ from Recommender.userEmbedding (exact float32 equality)`);
  if (differ > 0) process.exitCode = 1;
}

try {
  let input = data;
  if (env.SLICE) {
    input = join(dir, 'slice.txt');
    const lines = readFileSync(data, 'utf8').split('\n').slice(0, Number(env.SLICE));
    writeFileSync(input, lines.join('\n') + '\n');
  }
  let model = env.MODEL;
  if (!model) {
    model = join(dir, 'model');
    const t = cli(['train', '--data', input, ...dataFlags, '--model', env.TRAIN_MODEL ?? 'comirec-sa', '--epochs', '1', '--out', model]);
    console.log(`trained ${model} in ${t.seconds.toFixed(1)}s (not measured)`);
  }
  const out = join(dir, `users.${format}`);
  const args = ['embed', '--model', model, '--data', input, ...dataFlags, '--out', out, '--engine', env.ENGINE ?? 'memory'];
  const run = cli(args, 'rss');
  const rss = Number(/BENCH_MAXRSS_KB (\d+)/.exec(run.stderr)?.[1] ?? NaN);
  const wrote = /wrote .*/.exec(run.stderr)?.[0] ?? '(no summary line)';
  console.log(wrote);
  console.log(`seqrec ${args.join(' ')}`);
  console.log(
    `embed: ${run.seconds.toFixed(1)}s wall (process start, data load and writing included), peak RSS ${(rss / 1024).toFixed(0)} MB, ` +
      `users file ${(statSync(out).size / 2 ** 20).toFixed(1)} MB`,
  );
  const live = /BENCH_LIVE_MB (.*)/.exec(cli(args, 'live').stderr)?.[1] ?? '(not printed)';
  console.log(`live heap after full GCs every 250 ms, in a second run: peak ${live}`);
  if (format === 'parquet' && env.CHECK !== '0') await checkReadBack(out, input, model);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
