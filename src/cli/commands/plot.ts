/**
 * `seqrec plot embeddings | curves | interests`: SVG + PNG pictures of a saved model and its run.
 *
 *   embeddings  2-D map (UMAP, or PCA) of the item embeddings, coloured by category
 *               (--categories FILE: MovieLens u.item / movies.dat, or item,category lines) or
 *               else by popularity (log interaction count with --data, else frequency rank)
 *   curves      training loss and valid recall@50 / recall@20 per epoch, from history.json
 *   interests   one user's history coloured by the interest each item routes to (multi-interest models)
 *
 * Pictures of a model directory DIR go to `DIR.plots/` by default, next to the bundle and
 * never inside it: a bundle holds only what seqrec's atomic save wrote (src/bundle/atomic-dir.ts),
 * and a server reloading it must not meet stray files.
 */
import { readFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { loadInteractions } from '../../data/loaders.js';
import type { ItemVocabulary } from '../../data/vocabulary.js';
import { SeqrecError } from '../../errors.js';
import type { BaseRecaller } from '../../models/base.js';
import { readItemInfo, type ItemInfo } from '../../plot/categories.js';
import { curvesSpec, parseHistory } from '../../plot/curves.js';
import { embeddingMapSpec, project2d, type PointColouring } from '../../plot/embedding-map.js';
import { interestsSpec, routeHistory } from '../../plot/interests.js';
import { writeChart, type ChartFiles } from '../../plot/png.js';
import { readRegular, resolveModelDir } from '../../bundle/atomic-dir.js';
import { loadModel } from '../../bundle/checkpoint.js';
import { defineCommand, type CommandGroup, type Log } from '../command.js';
import { choice, int, str, type FlagValues } from '../flags.js';
import { cliProgress } from '../progress.js';
import { BACKEND_FLAGS } from '../shared-flags.js';

const OUT_FLAGS = {
  out: str('output path without extension: writes PATH.svg, PATH.png and PATH.vl.json (default: DIR.plots/<plot>, next to the bundle, never inside it)', {
    placeholder: 'path',
  }),
  title: str('replace the title', { placeholder: 'text' }),
} as const;

const CATEGORIES = str("MovieLens u.item or movies.dat (colour = first genre) or 'item,category' lines", { placeholder: 'file' });

const EMBEDDINGS_FLAGS = {
  model: str('model directory', { required: true, placeholder: 'dir' }),
  categories: CATEGORIES,
  data: str('colour by interactions per item in this log (without --categories)', { placeholder: 'file' }),
  method: choice(['umap', 'pca'] as const, '2-D projection', { default: 'umap', placeholder: 'name' }),
  maxItems: int('the most frequent items to draw', { min: 3, default: 5000 }),
  seed: int('UMAP seed', { min: 0, default: 42 }),
  ...OUT_FLAGS,
  ...BACKEND_FLAGS,
} as const;

const CURVES_FLAGS = {
  model: str('model directory with history.json (seqrec train --out)', { placeholder: 'dir' }),
  run: str('a history.json file instead of --model', { placeholder: 'file' }),
  ...OUT_FLAGS,
} as const;

const INTERESTS_FLAGS = {
  model: str('model directory (a multi-interest model)', { required: true, placeholder: 'dir' }),
  user: str('a user of --data (or the data file the model records)', { placeholder: 'id' }),
  data: str('interaction log holding --user', { placeholder: 'file' }),
  history: str('item ids, oldest first, comma separated (instead of --user)', { placeholder: 'ids' }),
  categories: CATEGORIES,
  k: int('interests to show', { min: 1, default: 5 }),
  ...OUT_FLAGS,
  ...BACKEND_FLAGS,
} as const;

export const plotGroup: CommandGroup = {
  name: 'plot',
  summary: 'SVG + PNG pictures (and Vega-Lite specs) of a saved model and its run: embeddings, curves, interests',
  subcommands: [
    defineCommand({
      name: 'plot embeddings',
      summary: '2-D map (UMAP or PCA) of the item embeddings, coloured by category or popularity',
      usage: '--model DIR [--categories FILE | --data FILE] [flags]',
      flags: EMBEDDINGS_FLAGS,
      backend: true,
      run: (values, log) => printFiles(plotEmbeddings(values, log)),
    }),
    defineCommand({
      name: 'plot curves',
      summary: 'training loss and valid recall per epoch, from history.json',
      usage: '--model DIR | --run HISTORY.json [flags]',
      flags: CURVES_FLAGS,
      backend: false,
      run: (values) => printFiles(plotCurves(values)),
    }),
    defineCommand({
      name: 'plot interests',
      summary: "one user's history coloured by the interest each item routes to (multi-interest models)",
      usage: '--model DIR (--user ID --data FILE | --history ID,ID,...) [flags]',
      flags: INTERESTS_FLAGS,
      backend: true,
      run: (values, log) => printFiles(plotInterests(values, log)),
    }),
  ],
};

async function printFiles(written: Promise<ChartFiles>): Promise<void> {
  const files = await written;
  process.stdout.write(`${files.svg}\n${files.png}\n${files.spec}\n`);
}

const DISPLAY_NAMES: Record<string, string> = {
  gru4rec: 'GRU4Rec',
  youtubednn: 'YouTube DNN',
  mind: 'MIND',
  'comirec-dr': 'ComiRec-DR',
  'comirec-sa': 'ComiRec-SA',
};

function displayName(model: string | undefined): string {
  return model ? (DISPLAY_NAMES[model] ?? model) : 'model';
}

/** "../shared/data/ml-100k/u.data" -> "ml-100k/u.data". */
function shortPath(path: string | undefined): string | undefined {
  if (!path) return undefined;
  return join(basename(dirname(path)), basename(path));
}

/** Default output path for plot `name` of the model directory `dir`: `DIR.plots/name`. */
export function defaultPlotPath(dir: string, name: string): string {
  return join(`${resolve(dir)}.plots`, name);
}

/** history.json of the model directory `dir` (its current version, or the flat directory). */
async function readHistory(dir: string): Promise<Buffer> {
  const where = await resolveModelDir(dir);
  const bytes = await readRegular(where.dir, 'history.json', 64 * 2 ** 20);
  if (!bytes) throw new SeqrecError('invalid_argument', `${dir} has no history.json (seqrec train --out DIR writes it)`, { file: 'history.json' });
  return bytes;
}

async function loadForPlot(dir: string): Promise<{ model: BaseRecaller; vocabulary: ItemVocabulary; data?: string }> {
  const { model, vocabulary, meta } = await loadModel(dir);
  if (!vocabulary) {
    model.dispose();
    throw new SeqrecError('bundle_invalid', `${dir} has no vocabulary.json: cannot map items to raw ids`);
  }
  const settings = meta.settings as { data?: string } | undefined;
  return { model, vocabulary, data: settings?.data };
}

async function plotCurves(flags: FlagValues<typeof CURVES_FLAGS>): Promise<ChartFiles> {
  const source = flags.run ?? (flags.model ? join(flags.model, 'history.json') : undefined);
  if (!source) throw new SeqrecError('invalid_argument', '--model DIR (with DIR/history.json) or --run HISTORY.json is required', { field: 'model' });
  let json: unknown;
  try {
    json = JSON.parse(flags.run ? await readFile(source, 'utf8') : (await readHistory(flags.model!)).toString('utf8'));
  } catch (err) {
    if (err instanceof SeqrecError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    throw new SeqrecError(
      'invalid_argument',
      `cannot read ${source}: ${code ?? (err as Error).message}${code === 'ENOENT' ? ' (seqrec train --out DIR writes it)' : ''}`,
      { file: source },
    );
  }
  const run = parseHistory(json, source);
  const data = shortPath(run.data);
  const last = run.history[run.history.length - 1];
  const spec = curvesSpec(run, {
    title: flags.title ?? `${displayName(run.model)}${data ? ` on ${data}` : ''}: training curves`,
    subtitle: [
      `${run.history.length} epochs (${run.stoppedBy === 'early_stopping' ? 'early stopping' : 'max epochs'}), best epoch ${run.bestEpoch ?? '?'} by valid recall@50; ` +
        `${typeof last.steps === 'number' ? `${last.steps} steps per epoch` : ''}`,
    ],
  });
  return writeChart(flags.out ?? (flags.run ? join(dirname(source), 'curves') : defaultPlotPath(flags.model!, 'curves')), spec);
}

async function plotEmbeddings(flags: FlagValues<typeof EMBEDDINGS_FLAGS>, log: Log): Promise<ChartFiles> {
  const dir = flags.model;
  const { method, maxItems } = flags;
  const { model, vocabulary, data } = await loadForPlot(dir);
  try {
    const n = Math.min(vocabulary.numItems, maxItems);
    const dim = model.embeddingDim;
    // Items 1..n: the vocabulary is in frequency order, so these are the n most frequent.
    const table = model.itemEmbeddings().dataSync() as Float32Array;
    const rows = table.slice(dim, (n + 1) * dim);
    const ids = vocabulary.items().slice(0, n);
    let colouring: PointColouring;
    let colourNote: string;
    if (flags.categories) {
      const info = await readItemInfo(flags.categories);
      const labels = ids.map((id) => info.categories.get(id) ?? 'no category');
      const missing = labels.filter((l) => l === 'no category').length;
      if (missing === n) throw new SeqrecError('invalid_argument', `${flags.categories}: none of the model's item ids has a category (ids like '${ids[0]}')`);
      if (missing) log(`${missing} of ${n} items have no category in ${flags.categories}`);
      const what = info.format === 'item-category' ? 'category' : 'first genre';
      colouring = { kind: 'category', labels, title: info.format === 'item-category' ? 'Category (items)' : 'First genre (items)' };
      colourNote = `colour = ${what} from ${basename(flags.categories)}${info.format === 'movielens-item' ? ' (first set flag in u.genre order)' : ''}`;
    } else if (flags.data) {
      const counts = new Map<string, number>();
      const raw = await cliProgress().run(`counting interactions in ${flags.data}`, () => loadInteractions(flags.data!));
      for (const s of raw.sequences) for (const item of s.items) counts.set(item, (counts.get(item) ?? 0) + 1);
      const values = ids.map((id) => Math.max(1, counts.get(id) ?? 0));
      colouring = { kind: 'continuous', values, title: 'interactions (log)', scale: 'log' };
      colourNote = `colour = interactions per item in ${shortPath(flags.data)} (log scale)`;
    } else {
      // Reversed: the most frequent items (rank 1) get the bright end of the scale, as with counts.
      const values = ids.map((_, i) => i + 1);
      colouring = { kind: 'continuous', values, title: 'popularity rank (log)', scale: 'log', reverse: true };
      colourNote = 'colour = popularity rank in the training data (1 = most frequent; log scale)';
    }
    const label = `${method.toUpperCase()} of ${n} item embeddings`;
    let task = cliProgress().task(label); // neighbour search first: size unknown
    let points: Float64Array;
    try {
      points = await project2d(rows, dim, {
        method,
        seed: flags.seed,
        onProgress: (done, total) => {
          if (task.total === undefined) task = cliProgress().task(label, total, 'epochs');
          task.update(done);
        },
      });
    } finally {
      task.finish();
    }
    const methodNote = method === 'umap' ? 'UMAP (umap-js; cosine distance, 15 neighbours, min-dist 0.1)' : 'PCA (top two principal components)';
    const spec = embeddingMapSpec({
      points,
      colouring,
      title: flags.title ?? `${displayName(model.name)} item embeddings${data ? ` (${shortPath(data)})` : ''}`,
      subtitle: [`${n} items${n < vocabulary.numItems ? ` (the ${n} most frequent of ${vocabulary.numItems})` : ''}, ${methodNote}`, colourNote],
      axisNames: method === 'umap' ? ['UMAP 1', 'UMAP 2'] : ['PC 1', 'PC 2'],
    });
    return await writeChart(flags.out ?? defaultPlotPath(dir, 'embeddings'), spec);
  } finally {
    model.dispose();
  }
}

async function plotInterests(flags: FlagValues<typeof INTERESTS_FLAGS>, log: Log): Promise<ChartFiles> {
  const dir = flags.model;
  const { model, vocabulary, data } = await loadForPlot(dir);
  try {
    let rawHistory: string[];
    let who: string;
    if (flags.history) {
      rawHistory = flags.history
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean);
      who = 'the given history';
    } else {
      const user = flags.user;
      if (!user) throw new SeqrecError('invalid_argument', '--user ID (with --data FILE) or --history ID,ID,... is required', { field: 'user' });
      const file = flags.data ?? data;
      if (!file) throw new SeqrecError('invalid_argument', '--user needs --data FILE (the model does not record its data file)', { field: 'data' });
      const raw = await cliProgress().run(`loading ${file}`, () => loadInteractions(file));
      const seq = raw.sequences.find((s) => s.user === user);
      if (!seq) throw new SeqrecError('invalid_argument', `user '${user}' is not in ${file}`, { field: 'user' });
      rawHistory = seq.items;
      who = `user ${user} of ${shortPath(file)}`;
    }
    const known = rawHistory.map((id) => vocabulary.encode(id)).filter((i): i is number => i !== undefined);
    const unknown = rawHistory.length - known.length;
    if (unknown) log(`${unknown} history items are not in the model's vocabulary and were skipped`);
    const routing = routeHistory(model, Int32Array.from(known), flags.k);
    let info: ItemInfo | undefined;
    if (flags.categories) info = await readItemInfo(flags.categories);
    const itemLabel = (item: number) => {
      const id = vocabulary.decode(item);
      const name = info?.names.get(id);
      return name ? `${name} (${id})` : `item ${id}`;
    };
    const spec = interestsSpec(routing, {
      title: flags.title ?? `${displayName(model.name)}: a user's history routed to ${routing.numInterests} interests`,
      subtitle: [
        `${who}: the last ${routing.items.length} of ${known.length} known items (the model's window)`,
        'item i goes to the interest k with the largest inner product ⟨v_k, e_i⟩ (interest vectors v_k from this window)',
      ],
      itemLabel,
      itemCategory: info ? (item) => info!.categories.get(vocabulary.decode(item)) : undefined,
    });
    return await writeChart(flags.out ?? defaultPlotPath(dir, 'interests'), spec, 1.25);
  } finally {
    model.dispose();
  }
}
