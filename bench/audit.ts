/**
 * npm run bench:audit — the robustness audit of issue #14, as a script anyone can re-run.
 *
 * It throws bad inputs and faults at seqrec (loaders, training, the CLI, bundles, the HTTP
 * server, kill -9 during saves) and sorts every outcome into one of:
 *   handled        a clear error (SeqrecError / seqrec-shaped 4xx naming the problem), or the
 *                  right answer (e.g. k capped at the catalogue)
 *   crash          a raw exception or stack trace, a 5xx, a hang, a process that died
 *   silent_change  bad input accepted with changed or invented data
 *   data_loss      a previous good model or a user's file gone
 *   security       an open admin route, a leaked path or file content, unbounded work
 * and prints the counts per area and the details of everything that was not handled. It exits
 * 1 when any of the last four is above 0.
 *
 * Environment: AUDIT_AREAS=loaders,training,cli,bundle,http,kills (default all);
 * AUDIT_KILLS=n kills per kill scenario (default 10; `npm run bench:faults` does 50+).
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { loadInteractions, type LoadOptions } from '../src/data/loaders.js';
import { SequenceDataset } from '../src/data/dataset.js';
import { generateSynthetic } from '../src/data/synthetic.js';
import { GRU4Rec } from '../src/models/gru4rec.js';
import { Trainer } from '../src/train/trainer.js';
import { initBackend } from '../src/backend/index.js';
import { bundleProbes } from './audit-bundle.js';
import { httpProbes } from './audit-http.js';
import { killProbes } from './audit-kills.js';
import { SilentChange, expectError, runProbe, type Outcome, type Probe, type ProbeResult } from './audit-probe.js';

const ROOT = resolve(import.meta.dirname, '..');
const AREAS = new Set((process.env.AUDIT_AREAS ?? 'loaders,training,cli,bundle,http,kills').split(','));
const work = mkdtempSync(join(tmpdir(), 'seqrec-audit-'));

function file(name: string, content: string | Buffer): string {
  const path = join(work, name);
  writeFileSync(path, content);
  return path;
}

// ---------------------------------------------------------------------------------------------
// Loaders: every file below is bad; loading it must be a SeqrecError naming the file.

function loaderProbes(): Probe[] {
  const good = Array.from({ length: 30 }, (_, i) => `u${i % 5},i${i % 7},${1000 + i}`);
  const cases: [string, string | Buffer, LoadOptions?][] = [
    ['a second header line in a csv without time column', 'user,item\nu1,i1\nuser,item\nu2,i2\n'],
    ['a second header line in a csv with time column', ['user,item,timestamp', ...good.slice(0, 5), 'user,item,timestamp', ...good.slice(5)].join('\n')],
    ['timestamp 1e999', 'user,item,timestamp\nu1,i1,1\nu1,i2,1e999\n'],
    ['timestamp -1e999', 'user,item,timestamp\nu1,i1,1\nu1,i2,-1e999\n'],
    ['timestamp NaN', 'user,item,timestamp\nu1,i1,1\nu1,i2,NaN\n'],
    ['timestamp Infinity', 'user,item,timestamp\nu1,i1,1\nu1,i2,Infinity\n'],
    ['rating 1e999 (minRating set)', 'user,item,rating,timestamp\nu1,i1,4,1\nu1,i2,1e999,2\n', { minRating: 3 }],
    ['rating NaN (minRating set)', 'user,item,rating,timestamp\nu1,i1,4,1\nu1,i2,NaN,2\n', { minRating: 3 }],
    ['u.data timestamp 1e999', '1\t2\t3\t1e999\n', { format: 'movielens-udata' }],
    ['ratings.dat rating Infinity', '1::2::Infinity::5\n', { format: 'movielens-dat' }],
    ['jsonl timestamp 1e999', '{"user":"u","item":"i","timestamp":1e999}\n'],
    ['random binary, sequence format, skip malformed', randomBytes(4096, 1), { format: 'sequence', onMalformed: 'skip' }],
    ['random binary, auto format', randomBytes(4096, 2)],
    ['random binary, csv, skip malformed', randomBytes(4096, 3), { format: 'csv', onMalformed: 'skip' }],
    ['NUL bytes inside a csv', 'user,item,timestamp\nu1,i\u00001,1\nu1,i2,2\n'],
    ['invalid UTF-8', Buffer.concat([Buffer.from('user,item,timestamp\nu1,'), Buffer.from([0xff, 0xfe, 0xc3]), Buffer.from(',1\n')])],
    ['a 10 MB item id', `user item\nu1 ${'x'.repeat(10 * 2 ** 20)}\n`, { format: 'sequence' }],
    ['a 513-character item id', `u1 ${'y'.repeat(513)} i2\n`, { format: 'sequence' }],
    ['a 513-character user id', `user,item,timestamp\n${'z'.repeat(513)},i1,1\n`],
    [
      '90% malformed lines with skip',
      ['user,item,timestamp', ...good.slice(0, 3), ...Array.from({ length: 27 }, () => 'just-one-field')].join('\n'),
      { onMalformed: 'skip' },
    ],
    ['u.data with 3 fields', '1\t2\t3\n', { format: 'movielens-udata' }],
    ['ratings.dat with 5 fields', '1::2::3::4::5\n', { format: 'movielens-dat' }],
    ['jsonl with an array line', '{"user":"u","item":"i"}\n[1,2]\n'],
    ['jsonl missing the item key', '{"user":"u","timestamp":1}\n'],
    ['empty file', ''],
    ['header only', 'user,item,timestamp\n'],
    ['a csv whose header names no item column', 'who,what,when\na,b,1\n'],
  ];
  return cases.map(([name, content, options], i) => {
    // The file name steers format detection: .jsonl for the JSON cases, .csv for the rest.
    const ext = name.startsWith('jsonl') ? 'jsonl' : options?.format === 'sequence' ? 'txt' : 'csv';
    return {
      area: 'loaders',
      name,
      run: () => expectError(() => loadInteractions(file(`probe-${i}.${ext}`, content), options ?? {}), { mentions: /probe-\d+/ }),
    };
  });
}

function randomBytes(n: number, seed: number): Buffer {
  const out = Buffer.alloc(n);
  let s = seed * 2654435761;
  for (let i = 0; i < n; i++) {
    s = (s * 1103515245 + 12345) >>> 0;
    out[i] = s >>> 24;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Training: sizes, learning rates, tiny data.

function trainingProbes(): Probe[] {
  const synth = generateSynthetic({ numUsers: 120, numItems: 60, numClusters: 4, minLength: 6, maxLength: 12, seed: 3 });
  const data = () => SequenceDataset.fromLog(synth, { maxLen: 10 });
  const fit = async (lr: number) => {
    const d = data();
    const model = new GRU4Rec({ itemCount: d.itemCount, embeddingDim: 8, maxLen: 10, seed: 1 });
    try {
      await new Trainer(model, { epochs: 2, batchSize: 32, learningRate: lr, parallelism: 1 }).fit(d);
    } finally {
      // A model left with non-finite weights is a silent change even when fit threw.
      const finite = model.namedWeights().every(({ variable }) => (variable.dataSync() as Float32Array).every(Number.isFinite));
      model.dispose();
      if (!finite) throw new SilentChange('the model holds non-finite weights after training');
    }
  };
  const probes: Probe[] = [
    { area: 'training', name: 'learning rate Infinity', run: () => expectError(() => fit(Infinity)) },
    { area: 'training', name: 'learning rate 1e30 (diverges)', run: () => expectError(() => fit(1e30), { code: 'diverged' }) },
    { area: 'training', name: 'learning rate NaN', run: () => expectError(() => fit(NaN)) },
    { area: 'training', name: 'learning rate -1', run: () => expectError(() => fit(-1)) },
    {
      area: 'training',
      name: 'embeddingDim 1e9',
      run: () => expectError(async () => new GRU4Rec({ itemCount: 12_000, embeddingDim: 1e9 }).dispose(), { mentions: /embeddingDim/ }),
    },
    {
      area: 'training',
      name: 'embeddingDim 100000 on 12,000 items',
      run: () => expectError(async () => new GRU4Rec({ itemCount: 12_000, embeddingDim: 100_000 }).dispose(), { mentions: /embeddingDim/ }),
    },
    { area: 'training', name: 'embeddingDim 2.5', run: () => expectError(async () => new GRU4Rec({ itemCount: 100, embeddingDim: 2.5 }).dispose()) },
    { area: 'training', name: 'itemCount 1e12', run: () => expectError(async () => new GRU4Rec({ itemCount: 1e12, embeddingDim: 8 }).dispose()) },
    {
      area: 'training',
      name: 'a one-user dataset',
      run: () =>
        expectError(
          async () => {
            const d = SequenceDataset.fromLog(
              {
                sequences: [{ user: 'u', items: ['a', 'b', 'c', 'd'], timestamps: [1, 2, 3, 4] }],
                stats: { source: 'one user', lines: 4, interactions: 4, skipped: 0, skipReasons: [] },
              },
              { maxLen: 5 },
            );
            const model = new GRU4Rec({ itemCount: d.itemCount, embeddingDim: 4, maxLen: 5 });
            try {
              await new Trainer(model, { epochs: 1, parallelism: 1 }).fit(d);
            } finally {
              model.dispose();
            }
          },
          { mentions: /user/i, notMentions: /no users were evaluated/ },
        ),
    },
  ];
  return probes;
}

/** The directory of a bundle's current version (the bundle itself for a flat one). */
function currentVersion(bundle: string): string {
  const pointer = join(bundle, 'CURRENT');
  return existsSync(pointer) ? join(bundle, (JSON.parse(readFileSync(pointer, 'utf8')) as { current: string }).current) : bundle;
}

// ---------------------------------------------------------------------------------------------
// CLI: bad flags must end in a one-line `seqrec <command>: ...` error, never a stack trace.

function cli(args: string[], timeoutMs = 50_000): Promise<{ code: number | string; stdout: string; stderr: string; ms: number }> {
  return new Promise((res) => {
    const t0 = Date.now();
    const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'src/cli/main.ts'), ...args], {
      cwd: ROOT,
      env: { ...process.env, SEQREC_WASM_THREADS: '1' },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      res({ code: code ?? signal ?? -1, stdout, stderr, ms: Date.now() - t0 });
    });
  });
}

const STACK = /\n\s+at .+[(:]\d+|RangeError|TypeError|ReferenceError|Invalid typed array length/;

function cliRefuses(args: string[], mentions?: RegExp, withinMs?: number): () => Promise<ProbeResult> {
  return async () => {
    const r = await cli(args);
    if (STACK.test(r.stderr)) return { outcome: 'crash', detail: r.stderr.split('\n').slice(0, 3).join(' | ') };
    if (r.code === 0) return { outcome: 'silent_change', detail: 'exit 0' };
    if (typeof r.code === 'string') return { outcome: 'crash', detail: `killed by ${r.code} (timeout or signal)` };
    if (mentions && !mentions.test(r.stderr)) return { outcome: 'crash', detail: `unclear message: ${r.stderr.trim().split('\n').pop()}` };
    if (withinMs && r.ms > withinMs) return { outcome: 'crash', detail: `refused only after ${r.ms} ms` };
    return { outcome: 'handled', detail: r.stderr.trim().split('\n').pop() };
  };
}

function cliProbes(): Probe[] {
  const synth = generateSynthetic({ numUsers: 200, numItems: 80, numClusters: 4, minLength: 6, maxLength: 14, seed: 4 });
  const data = file('cli-data.txt', synth.sequences.map((s) => `${s.user} ${s.items.join(' ')}`).join('\n') + '\n');
  const train = ['train', '--data', data, '--format', 'sequence', '--min-count', '0', '--epochs', '1'];
  const foreign = join(work, 'foreign-dir');
  const probes: [string, string[], RegExp?, number?][] = [
    ['train --dim 1e9', [...train, '--dim', '1e9'], /dim/],
    ['train --dim 100000', [...train, '--dim', '100000'], /dim/],
    ['train --dim -4', [...train, '--dim', '-4'], /dim/],
    ['train --epochs 0 (refused before loading data)', [...train.slice(0, -2), '--epochs', '0'], /epochs/],
    ['train --lr abc', [...train, '--lr', 'abc'], /lr/],
    ['train --lr Infinity', [...train, '--lr', 'Infinity'], /lr|learning|diverged|finite/],
    ['train --batch 0', [...train, '--batch', '0'], /batch/],
    ['train --max-len 1e9', [...train, '--max-len', '1e9'], /max-len|maxLen/],
    ['train --samples-per-user 1e9', [...train, '--samples-per-user', '1e9'], /samples/i],
    ['train --model comirec-sa --interests 1e6', [...train, '--model', 'comirec-sa', '--interests', '1e6'], /interests/i],
    ['train --loss sampled-softmax --negatives 1e9', [...train, '--loss', 'sampled-softmax', '--negatives', '1e9'], /negatives/i],
    ['train --seed abc', [...train, '--seed', 'abc'], /seed/],
    ['train --model nope', [...train, '--model', 'nope'], /model/],
    ['train --model __proto__', [...train, '--model', '__proto__'], /model/],
    ['train --data missing file', ['train', '--data', join(work, 'missing.txt')], /missing\.txt/],
    [
      'train --out into a foreign non-empty directory (before training)',
      [...train, '--epochs', '30', '--out', foreign],
      /foreign-dir|not empty|seqrec/,
      15_000,
    ],
    ['recommend --model missing dir', ['recommend', '--model', join(work, 'nothing'), '--history', 'a,b'], /nothing|bundle|model/],
    ['serve --admin-token ""', ['serve', '--model', join(work, 'nothing'), '--admin-token', ''], /admin/],
    ['an unknown command', ['trian'], /trian/],
  ];
  const bundle = join(work, 'cli-bundle');
  const setup: Probe = {
    area: 'cli',
    name: 'setup: a foreign directory and a trained bundle',
    setup: true,
    timeoutMs: 180_000,
    run: async () => {
      mkdirSync(foreign, { recursive: true });
      writeFileSync(join(foreign, 'thesis.tex'), 'mine');
      const r = await cli([...train, '--dim', '8', '--out', bundle]);
      if (r.code !== 0) throw new Error(`training the audit bundle failed: ${r.stderr}`);
      return { outcome: 'handled' };
    },
  };
  /** Files a user keeps in a bundle directory must survive seqrec's writes. */
  const keepsUserFiles = (name: string, args: string[], noNewFiles = false): Probe => ({
    area: 'cli',
    name,
    timeoutMs: 180_000,
    run: async () => {
      writeFileSync(join(bundle, 'NOTES.md'), 'my notes');
      const hadHistory = existsSync(join(currentVersion(bundle), 'history.json'));
      // seqrec keeps the current and the previous version and prunes older ones of its own.
      const before = readdirSync(bundle).filter((f) => !/^v\d{6}$/.test(f));
      const r = await cli(args);
      if (STACK.test(r.stderr)) return { outcome: 'crash', detail: r.stderr.split('\n').slice(-3).join(' | ') };
      if (!existsSync(join(bundle, 'NOTES.md'))) return { outcome: 'data_loss', detail: `NOTES.md is gone (exit ${r.code})` };
      if (hadHistory && !existsSync(join(currentVersion(bundle), 'history.json')))
        return { outcome: 'data_loss', detail: `history.json is gone after \`seqrec ${args[0]}\`` };
      const gone = before.filter((f) => !existsSync(join(bundle, f)));
      if (gone.length) return { outcome: 'data_loss', detail: `gone after \`seqrec ${args[0]}\`: ${gone.join(', ')}` };
      const added = readdirSync(bundle).filter((f) => !/^v\d{6}$/.test(f) && !before.includes(f));
      if (noNewFiles && added.length) return { outcome: 'silent_change', detail: `wrote into the bundle: ${added.join(', ')}` };
      return { outcome: 'handled', detail: `exit ${r.code}; ${r.stderr.trim().split('\n').pop()}` };
    },
  });
  return [
    setup,
    ...probes.map(([name, args, mentions, within]): Probe => ({ area: 'cli', name, run: cliRefuses(args, mentions, within) })),
    {
      area: 'cli',
      name: 'serve --admin-token "" on a good bundle',
      run: cliRefuses(['serve', '--model', bundle, '--port', '0', '--admin-token', ''], /admin/),
    },
    {
      area: 'cli',
      name: 'recommend --k 1e8 on an 80-item bundle (capped, bounded memory)',
      run: async () => {
        const r = await cli(['recommend', '--model', bundle, '--history', '1,2,3', '--k', '1e8']);
        if (STACK.test(r.stderr)) return { outcome: 'crash', detail: r.stderr.split('\n').slice(-3).join(' | ') };
        if (r.code !== 0) return { outcome: 'handled', detail: r.stderr.trim().split('\n').pop() };
        const lines = r.stdout.trim().split('\n').length;
        return lines <= 100 && r.ms < 30_000
          ? { outcome: 'handled', detail: `${lines} lines in ${r.ms} ms` }
          : { outcome: 'security', detail: `${lines} lines in ${r.ms} ms` };
      },
    },
    keepsUserFiles('train --out onto an existing bundle keeps the user’s NOTES.md', [...train, '--dim', '8', '--out', bundle]),
    keepsUserFiles('train --out onto an existing bundle with --force keeps the user’s NOTES.md', [...train, '--dim', '8', '--out', bundle, '--force']),
    keepsUserFiles('export of a bundle onto itself keeps its files', ['export', '--model', bundle, '--out', bundle]),
    keepsUserFiles('plot curves --model BUNDLE writes nothing into the bundle', ['plot', 'curves', '--model', bundle], true),
  ];
}

// ---------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  await initBackend();
  const probes: Probe[] = [];
  if (AREAS.has('loaders')) probes.push(...loaderProbes());
  if (AREAS.has('training')) probes.push(...trainingProbes());
  if (AREAS.has('cli')) probes.push(...cliProbes());
  if (AREAS.has('bundle')) probes.push(...(await bundleProbes(work)));
  if (AREAS.has('http')) probes.push(...(await httpProbes(work)));
  if (AREAS.has('kills')) probes.push(...(await killProbes(work, Number(process.env.AUDIT_KILLS ?? 10))));

  const results: { probe: Probe; result: ProbeResult }[] = [];
  for (const probe of probes) {
    const result = await runProbe(probe);
    if (!probe.setup) results.push({ probe, result });
    process.stderr.write(
      `${result.outcome === 'handled' ? 'ok  ' : 'FAIL'} [${probe.area}] ${probe.name}: ${result.outcome}${result.detail ? ` — ${result.detail.slice(0, 200)}` : ''}\n`,
    );
  }

  const kinds: Outcome[] = ['handled', 'crash', 'silent_change', 'data_loss', 'security'];
  const areas = [...new Set(results.map((r) => r.probe.area))];
  const inArea = (area: string | null) => results.filter((r) => area === null || r.probe.area === area);
  /** Probes (a kill scenario counts each kill) with outcome `kind`. */
  const count = (area: string | null, kind: Outcome) =>
    inArea(area).reduce((n, { result: r }) => {
      const total = r.count ?? 1;
      const failed = r.outcome === 'handled' ? 0 : (r.failed ?? total);
      return n + (kind === 'handled' ? total - failed : r.outcome === kind ? failed : 0);
    }, 0);
  const tried = (area: string | null) => inArea(area).reduce((n, r) => n + (r.result.count ?? 1), 0);
  const lines = [
    `## Robustness audit (\`npm run bench:audit\`)`,
    '',
    `Machine: ${cpus()[0]?.model ?? '?'}, Node ${process.version}; ${new Date().toISOString().slice(0, 16)}Z.`,
    '',
    `| area | probes | ${kinds.join(' | ')} |`,
    `| --- | ---: | ${kinds.map(() => '---:').join(' | ')} |`,
    ...areas.map((a) => `| ${a} | ${tried(a)} | ${kinds.map((k) => count(a, k)).join(' | ')} |`),
    `| **all** | **${tried(null)}** | ${kinds.map((k) => `**${count(null, k)}**`).join(' | ')} |`,
    '',
  ];
  const bad = results.filter((r) => r.result.outcome !== 'handled');
  if (bad.length)
    lines.push('Not handled:', '', ...bad.map((r) => `- [${r.probe.area}] ${r.probe.name}: **${r.result.outcome}** — ${r.result.detail ?? ''}`), '');
  process.stdout.write(lines.join('\n'));
  rmSync(work, { recursive: true, force: true });
  if (bad.length) process.exitCode = 1;
}

main().catch((err) => {
  process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
  process.exitCode = 1;
});
