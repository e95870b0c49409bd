/** `seqrec runs`: the experiment records of `train` and `bench` runs, as one comparison table. */
import { basename } from 'node:path';
import { defineCommand } from '../command.js';
import { bool, choice, int, str } from '../flags.js';
import { readRunRecords, type RunRecord } from '../run-records.js';

const SORT_KEYS = ['finished', 'test recall@50', 'test ndcg@10', 'valid recall@50'] as const;

const metric = (r: RunRecord, split: 'valid' | 'test', key: string) => r[split][key];
const sortValue: Record<(typeof SORT_KEYS)[number], (r: RunRecord) => number | string> = {
  finished: (r) => r.finishedAt,
  'test recall@50': (r) => metric(r, 'test', 'recall@50') ?? -1,
  'test ndcg@10': (r) => metric(r, 'test', 'ndcg@10') ?? -1,
  'valid recall@50': (r) => metric(r, 'valid', 'recall@50') ?? -1,
};

export const runsCommand = defineCommand({
  name: 'runs',
  summary: 'list and compare the experiment records of train and bench runs',
  usage: '[--dir seqrec-runs] [--model M] [--data TEXT] [--sort KEY] [--limit N]',
  notes:
    '\nOne row per record: when it finished, command, model, data file (and its SHA-256 prefix), epochs (best),\n' +
    'valid recall@50, test recall@50 / NDCG@10 / HR@10, seconds, and the parent of a warm start. `--json` prints\n' +
    'the records themselves.',
  flags: {
    dir: str('directory of records (train/bench --runs-dir)', { default: 'seqrec-runs', placeholder: 'dir' }),
    model: str('only runs of this model', { placeholder: 'name' }),
    data: str('only runs whose data path contains this text', { placeholder: 'text' }),
    sort: choice(SORT_KEYS, 'order of the rows (metrics: best first)', { default: 'finished', placeholder: 'key' }),
    limit: int('at most this many rows', { min: 1 }),
    json: bool('print the selected records as JSON lines instead of the table'),
  },
  backend: false,
  async run(values) {
    let records = await readRunRecords(values.dir);
    if (values.model !== undefined) records = records.filter((r) => r.model === values.model);
    if (values.data !== undefined) records = records.filter((r) => r.data.path.includes(values.data!));
    const key = sortValue[values.sort];
    records.sort((a, b) => (values.sort === 'finished' ? String(key(a)).localeCompare(String(key(b))) : Number(key(b)) - Number(key(a))));
    if (values.limit !== undefined) records = records.slice(0, values.limit);
    if (values.json) {
      process.stdout.write(records.map((r) => JSON.stringify(r)).join('\n') + (records.length ? '\n' : ''));
      return;
    }
    process.stdout.write(runsTable(records) + '\n');
  },
});

/** The settings that tell runs of one model apart: D, L, learning rate, batch and loss. */
function settingsOf(r: RunRecord): string {
  const c = r.config as { model?: Record<string, unknown>; training?: Record<string, unknown>; loss?: unknown; hyperparameters?: Record<string, unknown> };
  const h = { ...c.hyperparameters, ...c.model, ...c.training };
  const loss = typeof c.loss === 'object' && c.loss !== null ? (c.loss as { name?: unknown }).name : c.loss;
  const parts: [string, unknown][] = [
    ['D', h.embeddingDim ?? h.dim],
    ['L', h.maxLen],
    ['lr', h.learningRate ?? h.lr],
    ['batch', h.batchSize ?? h.batch],
    ['loss', loss === '-' ? undefined : loss],
  ];
  return parts
    .filter(([, v]) => v !== undefined && v !== null)
    .map(([k, v]) => `${k} ${typeof v === 'number' && !Number.isInteger(v) ? v.toPrecision(3) : String(v)}`)
    .join(', ');
}

/** The comparison table of `seqrec runs` (Markdown). */
export function runsTable(records: readonly RunRecord[]): string {
  const f = (v: number | undefined) => (v === undefined ? '-' : v.toFixed(4));
  const head =
    '| finished | command | model | settings | data | epochs (best) | valid R@50 | test R@50 | test NDCG@10 | test HR@10 | seconds | CPU | parent | id |';
  const rows = records.map((r) =>
    [
      r.finishedAt.replace('T', ' ').replace(/\.\d+Z$/, 'Z'),
      r.command,
      r.model,
      settingsOf(r),
      `${basename(r.data.path)} (${r.data.sha256.slice(0, 8)})`,
      r.epochs ? `${r.epochs} (${r.bestEpoch})` : '-',
      f(metric(r, 'valid', 'recall@50')),
      f(metric(r, 'test', 'recall@50')),
      f(metric(r, 'test', 'ndcg@10')),
      f(metric(r, 'test', 'hitRate@10')),
      r.seconds.toFixed(0),
      // Seconds compare only between runs on one kind of CPU.
      r.cpu,
      r.parent ? r.parent.slice(0, 8) : '-',
      r.id,
    ].join(' | '),
  );
  return [head, `|${'---|'.repeat(14)}`, ...rows.map((r) => `| ${r} |`)].join('\n');
}
