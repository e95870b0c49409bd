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
 * by a hook the child loads before the CLI.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const env = process.env;
const data = resolve(env.DATA ?? join(ROOT, '../shared/data/amazon-beauty/Beauty.txt'));
const format = env.FORMAT ?? 'parquet';
const dataFlags = ['--format', 'sequence', '--min-count', env.MIN_COUNT ?? '5'];
const dir = mkdtempSync(join(tmpdir(), 'seqrec-bench-embed-'));
// Printed from the child's exit: its own peak resident set, whatever the CLI's exit path.
const HOOK = "process.on('exit', () => process.stderr.write(`\\nBENCH_MAXRSS_KB ${process.resourceUsage().maxRSS}\\n`));";

function cli(args: string[], measure = false): { stderr: string; seconds: number } {
  const pre = measure ? ['--import', `data:text/javascript,${encodeURIComponent(HOOK)}`] : [];
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
  const run = cli(args, true);
  const rss = Number(/BENCH_MAXRSS_KB (\d+)/.exec(run.stderr)?.[1] ?? NaN);
  const wrote = /wrote .*/.exec(run.stderr)?.[0] ?? '(no summary line)';
  console.log(wrote);
  console.log(`seqrec ${args.join(' ')}`);
  console.log(
    `embed: ${run.seconds.toFixed(1)}s wall (process start, data load and writing included), peak RSS ${(rss / 1024).toFixed(0)} MB, ` +
      `users file ${(statSync(out).size / 2 ** 20).toFixed(1)} MB`,
  );
} finally {
  rmSync(dir, { recursive: true, force: true });
}
