/**
 * `seqrec tune --data FILE --model M --space space.json --trials N`: random search with
 * successive halving (src/tune/space.ts) over `seqrec train` runs. Each trial is a `seqrec
 * train` child process with early stopping on the monitored valid metric; `--jobs 2` runs two
 * at once, one thread each. Everything goes to --out: search.json (the search, checked on
 * resume), trials.jsonl (one line per finished trial and rung, written as it finishes),
 * results.md, and best.json with the best configuration as `seqrec train` arguments. Run the
 * same command again after an interruption: finished trials are read back, not repeated.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { appendFile, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SeqrecError } from '../../errors.js';
import { configArgs, halvingRungs, parseSpace, sampleConfig, type TrialConfig } from '../../tune/space.js';
import { defineCommand, type Log } from '../command.js';
import { choice, int, kebab, num, str, type FlagValues } from '../flags.js';
import { MONITOR_KEYS } from '../shared-flags.js';
import { MODEL_NAMES, TRAIN_FLAGS } from './train-flags.js';

/** Train flags a trial may not set: the search decides them, or they name files. */
const RESERVED = [
  'data',
  'out',
  'force',
  'json',
  'runs-dir',
  'from',
  'new-rows',
  'epochs',
  'patience',
  'monitor',
  'max-minutes',
  'mode',
  'test',
  'preset',
  'model',
  'optimizer',
  'momentum',
];
const TUNABLE = Object.keys(TRAIN_FLAGS)
  .map(kebab)
  .filter((k) => !RESERVED.includes(k));

const TUNE_FLAGS = {
  data: str('interaction log (the trials read it with the flags the space fixes)', { required: true, placeholder: 'file' }),
  model: choice(MODEL_NAMES, 'model to tune', { default: 'gru4rec', placeholder: 'name' }),
  space: str('search space JSON: {"lr": {"log": [1e-4, 1e-2]}, "dim": [32, 64], "format": ["sequence"]}', { required: true, placeholder: 'file' }),
  trials: int('configurations drawn', { min: 1, default: 20 }),
  epochs: int('epoch budget of the last rung', { min: 1, default: 30 }),
  minEpochs: int('epoch budget of the first rung', { min: 1, default: 3 }),
  eta: int('halving rate: the best 1/eta go on with eta times the budget', { min: 2, default: 3 }),
  patience: int('early stopping patience of every trial', { min: 1, default: 3 }),
  monitor: choice(MONITOR_KEYS, 'valid metric trials are ranked and stopped by', { default: 'recall@50', placeholder: 'metric' }),
  jobs: int('trials at once (one thread each when > 1)', { min: 1, default: 1 }),
  seed: num('search seed (the trials keep their own --seed)', { default: 1 }),
  out: str('directory of the search (resumed when it holds the same search)', { default: 'seqrec-tune', placeholder: 'dir' }),
} as const;

interface TrialResult {
  trial: number | 'defaults';
  rung: number;
  epochs: number;
  config: TrialConfig;
  status: 'ok' | 'failed';
  score: number;
  valid?: Record<string, number>;
  test?: Record<string, number>;
  bestEpoch?: number;
  seconds: number;
  error?: string;
}

const CLI = fileURLToPath(new URL('../main.js', import.meta.url));

/** One `seqrec train` child; resolves with its JSON line (or the failure). */
async function runTrial(
  args: string[],
  threads: number | null,
  lineFile: string,
): Promise<{ ok: true; line: Record<string, unknown> } | { ok: false; error: string }> {
  await rm(lineFile, { force: true });
  // Under tsx the CLI runs from src (main.ts); built, from dist (main.js).
  const entry = existsSync(CLI) ? [CLI] : ['--import', 'tsx', CLI.replace(/\.js$/, '.ts')];
  const env = { ...process.env, SEQREC_PROGRESS: 'off', ...(threads ? { SEQREC_THREADS: String(threads), SEQREC_WASM_THREADS: String(threads) } : {}) };
  const child = spawn(process.execPath, [...entry, 'train', ...args, '--json', lineFile], { env, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
  const code = await new Promise<number | null>((res) => child.on('exit', res));
  if (code !== 0 || !existsSync(lineFile)) return { ok: false, error: stderr.trim().split('\n').slice(-3).join(' | ') || `exit ${code}` };
  return { ok: true, line: JSON.parse((await readFile(lineFile, 'utf8')).trim().split('\n').pop()!) as Record<string, unknown> };
}

export const tuneCommand = defineCommand({
  name: 'tune',
  summary: 'hyperparameter search: random search with successive halving over seqrec train runs',
  usage: '--data FILE --model M --space space.json --trials N [flags]',
  notes:
    `\nSpace keys are train flags: ${TUNABLE.join(', ')}. A one-value choice fixes a flag for every trial.\n` +
    'The defaults (train defaults plus the fixed flags) run once with the full budget, for comparison.',
  flags: TUNE_FLAGS,
  backend: false,
  async run(values, log) {
    await tune(values, log);
  },
});

type TuneValues = FlagValues<typeof TUNE_FLAGS>;

async function tune(values: TuneValues, log: Log): Promise<void> {
  const spacePath = resolve(values.space);
  let json: unknown;
  try {
    json = JSON.parse(await readFile(spacePath, 'utf8'));
  } catch (e) {
    throw new SeqrecError('invalid_config', `--space ${spacePath}: ${(e as Error).message}`, { file: spacePath });
  }
  const space = parseSpace(json, TUNABLE, spacePath);
  const rungs = halvingRungs(values.trials, values.minEpochs, values.epochs, values.eta);
  const out = resolve(values.out);
  await mkdir(out, { recursive: true });
  const search = {
    format: 'seqrec-tune',
    version: 1,
    data: resolve(values.data),
    model: values.model,
    space,
    seed: values.seed,
    trials: values.trials,
    rungs,
    patience: values.patience,
    monitor: values.monitor,
  };
  const searchFile = join(out, 'search.json');
  if (existsSync(searchFile)) {
    if ((await readFile(searchFile, 'utf8')) !== JSON.stringify(search, null, 1)) {
      throw new SeqrecError('invalid_argument', `${out} holds a different search (search.json differs): use another --out to start a new one`, {
        field: 'out',
      });
    }
  } else {
    await writeFile(searchFile, JSON.stringify(search, null, 1));
  }
  const trialsFile = join(out, 'trials.jsonl');
  const done: TrialResult[] = existsSync(trialsFile)
    ? (await readFile(trialsFile, 'utf8'))
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as TrialResult)
    : [];
  if (done.length) log(`resuming ${out}: ${done.length} trial runs already finished`);
  const fixed = Object.fromEntries(
    Object.entries(space)
      .filter(([, p]) => Array.isArray(p) && p.length === 1)
      .map(([k, p]) => [k, (p as unknown[])[0]]),
  ) as TrialConfig;
  const threads = values.jobs > 1 ? 1 : null;
  const key = (trial: number | 'defaults', rung: number) => `${trial}/${rung}`;
  const finished = new Map(done.map((r) => [key(r.trial, r.rung), r]));

  const run = async (trial: number | 'defaults', rung: number, config: TrialConfig, epochs: number): Promise<TrialResult> => {
    const existing = finished.get(key(trial, rung));
    if (existing) return existing;
    const args = ['--data', values.data, '--model', values.model, ...configArgs(config), '--epochs', String(epochs), '--patience', String(values.patience)];
    args.push('--monitor', values.monitor, '--runs-dir', join(out, 'runs'));
    const t0 = performance.now();
    const r = await runTrial(args, threads, join(out, `.trial-${trial}-${rung}.json`));
    const seconds = (performance.now() - t0) / 1000;
    const result: TrialResult = r.ok
      ? {
          trial,
          rung,
          epochs,
          config,
          status: 'ok',
          score: (r.line.valid as Record<string, number>)[values.monitor] ?? -Infinity,
          valid: r.line.valid as Record<string, number>,
          test: r.line.test as Record<string, number>,
          bestEpoch: r.line.bestEpoch as number,
          seconds,
        }
      : { trial, rung, epochs, config, status: 'failed', score: -Infinity, seconds, error: r.error };
    await appendFile(trialsFile, JSON.stringify(result) + '\n');
    finished.set(key(trial, rung), result);
    log(
      `trial ${trial} rung ${rung} (${epochs} epochs): ${result.status === 'ok' ? `valid ${values.monitor} ${result.score.toFixed(4)}` : `failed: ${result.error}`} (${seconds.toFixed(0)} s)`,
    );
    return result;
  };
  /** Runs `tasks` with at most `values.jobs` at once. */
  const pool = async <T>(tasks: (() => Promise<T>)[]): Promise<T[]> => {
    const results: T[] = new Array(tasks.length);
    let next = 0;
    const worker = async () => {
      while (next < tasks.length) {
        const i = next++;
        results[i] = await tasks[i]();
      }
    };
    await Promise.all(Array.from({ length: Math.min(values.jobs, tasks.length) }, worker));
    return results;
  };

  const configs = Array.from({ length: values.trials }, (_, t) => sampleConfig(space, values.seed, t));
  let alive = configs.map((_, t) => t);
  let last: TrialResult[] = [];
  for (const [k, rung] of rungs.entries()) {
    log(`rung ${k}: ${alive.length} configurations, ${rung.epochs} epochs each`);
    last = await pool(alive.map((t) => () => run(t, k, configs[t], rung.epochs)));
    const next = rungs[k + 1];
    if (!next) break;
    alive = [...last]
      .sort((a, b) => b.score - a.score || Number(a.trial) - Number(b.trial))
      .slice(0, next.trials)
      .map((r) => r.trial as number);
  }
  const [defaults] = await pool([() => run('defaults', rungs.length - 1, fixed, values.epochs)]);
  const best = [...last].sort((a, b) => b.score - a.score)[0];
  const command = `seqrec train --data ${values.data} --model ${values.model} ${configArgs(best.config).join(' ')} --epochs ${values.epochs} --patience ${values.patience} --monitor ${values.monitor}`;
  await writeFile(
    join(out, 'best.json'),
    JSON.stringify({ trial: best.trial, config: best.config, valid: best.valid, test: best.test, args: configArgs(best.config), command }, null, 1) + '\n',
  );
  const table = resultsTable([...finished.values()], values.monitor);
  await writeFile(join(out, 'results.md'), table + '\n');
  process.stdout.write(
    `${table}\n\nbest: trial ${best.trial}, valid ${values.monitor} ${best.score.toFixed(4)}, test recall@50 ${fmt(best.test?.['recall@50'])}` +
      ` (defaults: ${fmt(defaults.test?.['recall@50'])})\n${command}\n`,
  );
}

const fmt = (v: number | undefined) => (v === undefined ? '-' : v.toFixed(4));

/** Every trial run, the last rung first, best first within a rung. */
function resultsTable(results: TrialResult[], monitor: string): string {
  const rows = [...results].sort((a, b) => b.rung - a.rung || b.score - a.score);
  return [
    `| trial | rung | epochs (best) | valid ${monitor} | test recall@50 | test ndcg@10 | seconds | config |`,
    '|---|---|---|---|---|---|---|---|',
    ...rows.map(
      (r) =>
        `| ${r.trial} | ${r.rung} | ${r.epochs} (${r.bestEpoch ?? '-'}) | ${r.status === 'ok' ? r.score.toFixed(4) : 'failed'} | ${fmt(r.test?.['recall@50'])} | ${fmt(r.test?.['ndcg@10'])} | ${r.seconds.toFixed(0)} | \`${configArgs(r.config).join(' ')}\` |`,
    ),
  ].join('\n');
}
