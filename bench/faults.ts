/**
 * `npm run bench:faults`: kill -9 at random points (issue #14 "Must show").
 *
 * Three scenarios, each killed FAULTS_KILLS times (default 50) with SIGKILL:
 *   train       `seqrec train --out DIR --force` on a tiny synthetic log (one run ~1-3 s)
 *   export      `seqrec export --model DIR --out DIR` (a re-export in place)
 *   checkpoint  a small script training with `Trainer({ checkpointDir: DIR })`
 * Each kill lands at a random time: a third uniformly over a whole run, the rest within a few
 * tens of milliseconds after the run announces that it is about to save (the metric table,
 * the export's first log line, an epoch line), so that many kills land inside the save.
 * After every kill the harness loads DIR (loadBundle / loadModel): it must be a complete,
 * digest-checked bundle, the previous one or the new one. After all kills one normal run must
 * leave no leftovers: only CURRENT, the current and the previous version, and the user's
 * NOTES.md (placed there first, and required to survive).
 *
 * Prints: scenario | kills | inside a save | loadable % | leftovers after next run | NOTES.md kept.
 * FAULTS_KILLS=N sets the count, FAULTS_SCENARIOS=train,export picks scenarios,
 * FAULTS_RUNNER=dist runs the built CLI (node dist/esm/cli/main.js; run `npm run build` first)
 * instead of the sources through tsx.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { initBackend } from '../src/backend/index.js';
import { generateSynthetic } from '../src/data/synthetic.js';
import { loadBundle } from '../src/bundle/bundle.js';
import { loadModel } from '../src/bundle/checkpoint.js';

const ROOT = resolve(import.meta.dirname, '..');
export const SCENARIOS = ['train', 'export', 'checkpoint'] as const;
export type Scenario = (typeof SCENARIOS)[number];

export interface ScenarioResult {
  scenario: Scenario;
  kills: number;
  /** Kills after which a save's debris was found: the kill landed inside a save. */
  insideSave: number;
  loadable: number;
  /** Entries left that are not CURRENT, the current or previous version, or NOTES.md, after one normal run. */
  leftovers: number;
  notesKept: boolean;
  notes: string[];
}

function runnerArgs(): string[] {
  if (process.env.FAULTS_RUNNER === 'dist') return [join(ROOT, 'dist/esm/cli/main.js')];
  return ['--import', 'tsx', join(ROOT, 'src/cli/main.ts')];
}

interface Run {
  exited: Promise<number | string>;
  /** Resolves when the run's output matches `cue` (never, if it does not). */
  cue: Promise<void>;
  kill(): boolean;
  output(): string;
}

function start(command: string[], cue: RegExp): Run {
  const child = spawn(process.execPath, command, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, SEQREC_PROGRESS: 'off' } });
  let out = '';
  let onCue: () => void = () => undefined;
  const cued = new Promise<void>((r) => (onCue = r));
  const watch = (d: Buffer) => {
    out += d.toString();
    if (cue.test(out)) onCue();
  };
  child.stdout.on('data', watch);
  child.stderr.on('data', watch);
  const exited = new Promise<number | string>((r) => child.on('exit', (code, signal) => r(code ?? signal ?? -1)));
  return {
    exited,
    cue: cued,
    kill: () => child.exitCode === null && child.signalCode === null && child.kill('SIGKILL'),
    output: () => out,
  };
}

async function runToEnd(command: string[]): Promise<number> {
  const t0 = performance.now();
  const r = start(command, /$^/);
  const code = await r.exited;
  if (code !== 0) throw new Error(`normal run failed (${code}): ${command.join(' ')}\n${r.output().slice(-2000)}`);
  return performance.now() - t0;
}

/** The command of one run of `scenario`, and the output that says a save is about to start. */
function scenarioCommand(scenario: Scenario, dir: string, data: string, script: string): { command: string[]; cue: RegExp } {
  const cli = runnerArgs();
  const flags = ['--format', 'sequence', '--min-count', '0', '--max-len', '10', '--dim', '8', '--batch', '64'];
  if (scenario === 'train') return { command: [...cli, 'train', '--data', data, ...flags, '--epochs', '2', '--out', dir, '--force'], cue: /MostPopular/ };
  if (scenario === 'export') return { command: [...cli, 'export', '--model', dir, '--out', dir], cue: /popularity counts from/ };
  return { command: ['--import', 'tsx', script, data, dir], cue: /epoch\s+\d+/ };
}

const TRAINER_SCRIPT = (root: string) => `
import { initBackend } from ${JSON.stringify(pathToFileURL(join(root, 'src/backend/index.ts')).href)};
import { GRU4Rec, SequenceDataset, Trainer, loadInteractions } from ${JSON.stringify(pathToFileURL(join(root, 'src/index.ts')).href)};
const [data, dir] = process.argv.slice(2);
await initBackend();
const log = await loadInteractions(data, { format: 'sequence' });
const dataset = SequenceDataset.fromLog(log, { maxLen: 10, seed: Math.floor(Math.random() * 1000) });
const model = new GRU4Rec({ itemCount: dataset.itemCount, embeddingDim: 8, maxLen: 10, seed: Math.floor(Math.random() * 1000) });
// patience 99 and a fresh seed: every epoch that improves saves a checkpoint.
const trainer = new Trainer(model, { epochs: 4, batchSize: 64, learningRate: 0.01, patience: 99, checkpointDir: dir, log: (l) => console.error(l) });
await trainer.fit(dataset);
model.dispose();
`;

const VERSION_RE = /^v\d{6,}$/;

/** Entries of `dir` that are neither the pointer, its current or previous version, nor the user's file. */
async function leftovers(dir: string): Promise<string[]> {
  const pointer = JSON.parse(await readFile(join(dir, 'CURRENT'), 'utf8')) as { current: string; previous: string | null };
  const keep = new Set(['CURRENT', 'NOTES.md', pointer.current, ...(pointer.previous ? [pointer.previous] : [])]);
  return (await readdir(dir)).filter((n) => !keep.has(n));
}

/** Whether `dir` shows a save in progress: a temporary version, a pointer temp, or a version CURRENT does not keep. */
async function debris(dir: string): Promise<boolean> {
  const names = await readdir(dir);
  if (names.some((n) => n.startsWith('.seqrec-tmp-') || n.startsWith('.CURRENT.tmp-'))) return true;
  if (!existsSync(join(dir, 'CURRENT'))) return names.some((n) => VERSION_RE.test(n));
  return (await leftovers(dir)).length > 0;
}

async function loads(scenario: Scenario, dir: string): Promise<string | null> {
  try {
    const loaded = scenario === 'checkpoint' ? await loadModel(dir) : await loadBundle(dir);
    loaded.model.dispose();
    return null;
  } catch (err) {
    return (err as Error).message;
  }
}

/** Kills one scenario `kills` times (see the module comment) in `work` (created, then removed). */
export async function runScenario(scenario: Scenario, kills: number, work: string): Promise<ScenarioResult> {
  await initBackend();
  await mkdir(work, { recursive: true });
  const data = join(work, 'tiny.txt');
  const synthetic = generateSynthetic({ numUsers: 300, numItems: 120, numClusters: 6, minLength: 8, maxLength: 20, seed: 9 });
  await writeFile(data, synthetic.sequences.map((s) => `${s.user} ${s.items.join(' ')}`).join('\n') + '\n');
  const script = join(work, 'checkpoint-run.mts');
  await writeFile(script, TRAINER_SCRIPT(ROOT));
  const dir = join(work, 'bundle');
  const result: ScenarioResult = { scenario, kills: 0, insideSave: 0, loadable: 0, leftovers: 0, notesKept: false, notes: [] };
  try {
    // A complete model first (the "previous" every kill must leave loadable), and the user's file.
    const first = scenario === 'checkpoint' ? scenarioCommand('checkpoint', dir, data, script) : scenarioCommand('train', dir, data, script);
    await runToEnd(first.command);
    await writeFile(join(dir, 'NOTES.md'), 'the user wrote this\n');
    const { command, cue } = scenarioCommand(scenario, dir, data, script);
    const duration = await runToEnd(command);
    for (let attempt = 0; result.kills < kills && attempt < kills * 4; attempt++) {
      const run = start(command, cue);
      const uniform = Math.random() < 1 / 3;
      let killed = false;
      const timer = uniform ? setTimeout(() => (killed = run.kill()), Math.random() * duration) : undefined;
      if (!uniform) {
        void run.cue.then(() => setTimeout(() => (killed = run.kill()), Math.random() * 60));
      }
      await run.exited;
      clearTimeout(timer);
      if (!killed) continue;
      result.kills++;
      if (await debris(dir)) result.insideSave++;
      const failure = await loads(scenario, dir);
      if (failure === null) result.loadable++;
      else result.notes.push(`kill ${result.kills}: not loadable: ${failure}`);
    }
    await runToEnd(command);
    const left = await leftovers(dir);
    result.leftovers = left.length;
    if (left.length) result.notes.push(`leftovers after the next run: ${left.join(', ')}`);
    result.notesKept = existsSync(join(dir, 'NOTES.md')) && (await readFile(join(dir, 'NOTES.md'), 'utf8')) === 'the user wrote this\n';
    if (!result.notesKept) result.notes.push('NOTES.md was lost');
    const failure = await loads(scenario, dir);
    if (failure) result.notes.push(`not loadable after the next run: ${failure}`);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
  return result;
}

async function main(): Promise<void> {
  const kills = Number(process.env.FAULTS_KILLS ?? 50);
  if (!Number.isInteger(kills) || kills < 1) throw new Error(`FAULTS_KILLS must be an integer >= 1, got ${process.env.FAULTS_KILLS}`);
  const wanted = (process.env.FAULTS_SCENARIOS ?? SCENARIOS.join(',')).split(',').map((s) => s.trim()) as Scenario[];
  for (const s of wanted) if (!SCENARIOS.includes(s)) throw new Error(`unknown scenario '${s}' (${SCENARIOS.join(', ')})`);
  const work = await mkdtemp(join(tmpdir(), 'seqrec-faults-'));
  const rows: ScenarioResult[] = [];
  for (const s of wanted) {
    const t0 = performance.now();
    const r = await runScenario(s, kills, join(work, s));
    rows.push(r);
    console.error(`${s}: ${r.kills} kills in ${((performance.now() - t0) / 1000).toFixed(0)} s${r.notes.length ? `\n  ${r.notes.join('\n  ')}` : ''}`);
  }
  await rm(work, { recursive: true, force: true });
  const header = '| scenario | kills | inside a save | loadable | leftovers after next run | NOTES.md kept |';
  const lines = rows.map(
    (r) =>
      `| ${r.scenario} | ${r.kills} | ${r.insideSave} | ${((100 * r.loadable) / Math.max(1, r.kills)).toFixed(0)}% | ${r.leftovers} | ${r.notesKept ? 'yes' : 'no'} |`,
  );
  process.stdout.write([header, '|---|---:|---:|---:|---:|---|', ...lines].join('\n') + '\n');
  if (rows.some((r) => r.loadable !== r.kills || r.leftovers !== 0 || !r.notesKept)) process.exitCode = 1;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await main();
