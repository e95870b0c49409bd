#!/usr/bin/env node
/**
 * The `seqrec` command line: demo, train, eval, recommend, export, serve.
 * One precedence rule for settings: flags over defaults. Progress goes to stderr, results to stdout.
 */
import { parseArgs } from 'node:util';
import { initBackend, reportBackendOnce, useBackend } from '../backend/index.js';
import { SeqrecError } from '../errors.js';
import { runBench } from './bench.js';
import { runDemo } from './demo.js';
import { runEval, runRecommend, runTrain } from './commands.js';
import { runExport, runServe } from './serve.js';
import { runPlot } from './plot.js';
import { cliProgress } from './progress.js';

/** `seqrec serve`'s wasm threads when SEQREC_WASM_THREADS is unset (measured: docs/serving.md). */
const SERVE_WASM_THREADS = 1;

const USAGE = `seqrec — sequential recall for Node.js

Usage:
  seqrec demo [--epochs N] [--backend wasm|cpu|tensorflow]
      Train GRU4Rec on the embedded synthetic dataset and compare it with MostPopular.
  seqrec train --data FILE [--format auto|sequence|movielens-dat|movielens-udata|movielens-csv|csv|tsv|jsonl]
               [--model gru4rec|youtubednn|mind|comirec-dr|comirec-sa] [--interests 4]
               [--protocol comirec|loo] [--dim 64] [--max-len 20] [--epochs 30]
               [--patience 5] [--batch 256] [--lr 0.001] [--samples-per-user 1] [--min-count 5] [--k-core iterative|one-pass]
               [--seed 42] [--split-seed 2020] [--similarity ip|cosine] [--out DIR] [--json FILE]
               [--loss softmax|sampled-softmax|in-batch|bpr|top1|bpr-max|top1-max|comirec-sampled]
               [--negatives N] [--sampler uniform|popularity|log-uniform|in-batch] [--alpha A]
               [--item-gradients auto|dense|sparse]
      Train on your interaction log, report test recall/NDCG/hit rate @20 and @50.
      --k-core one-pass: drop rare items, then short users, once (ComiRec's preprocessing);
      the default iterates until both thresholds hold.
      --negatives: shared negatives per batch (comirec-sampled: per row); --sampler in-batch:
      the other rows' targets plus N popularity^A samples (GRU4Rec's scheme).
      --item-gradients sparse: update only the item rows a batch touches (row-wise Adam; the
      default for sampled losses), so a step does not grow with the catalogue.
      --out DIR is checked before training: a directory holding a seqrec model needs --force
      (the new model becomes a new version, the previous one is kept); any other non-empty
      directory is refused. Files you put in DIR (NOTES.md) are never touched.
  seqrec train --mode session-parallel --data TRAIN_SESSIONS [--test TEST_SESSIONS]
               [--loss bpr-max] [loss flags as above] [--dim 64] [--batch 128] [--epochs 10]
               [--optimizer adam|adagrad] [--lr] [--momentum 0] [--seed 42] [--out DIR] [--json FILE]
               [--preset gru4rec-official-coveo|diginetica|retailrocket|rees46|rsc15|yoochoose]
      GRU4Rec with session-parallel mini-batches on 'session_id item item ...' files; reports
      next-item recall and MRR @5/10/20 over every test event (full ranking).
      --preset: the official repository's tuned settings for that dataset (paramfiles/; loss,
      layer size, dropouts, Adagrad lr and momentum, batch, output bias); given flags override.
  seqrec eval --model DIR --data FILE [same data flags as train]
      Evaluate a saved model on the test users of the same split.
  seqrec bench --data FILE | --split PEER_EXPORT.json [--protocol comirec|loo]
               [--models mostpopular,gru4rec,youtubednn,mind,comirec-dr,comirec-sa] [training flags]
               [--diversity W] [--sharpen P] [--out RUNS.jsonl] [--md TABLE.md]
      Train and test several models on one split; a JSON line per run and a Markdown table.
      --diversity W: add W x mean pairwise cosine of the interests to the loss; --sharpen P:
      squash (|s|²/(1+|s|²))^P · s/|s| in MIND and ComiRec-DR (both against collapsed interests).
  seqrec recommend --model DIR --history ID,ID,... [--k 10] [--exclude-seen]
      Top-k next items for a history of raw item ids.
  seqrec export --model CHECKPOINT_DIR --out BUNDLE_DIR [--data FILE + data flags] [--faiss FACTORY] [--force]
      Write a serving bundle (train --out already writes one). Replacing another model in
      BUNDLE_DIR needs --force; re-exporting a bundle onto itself does not (history.json is kept).
  seqrec serve --model BUNDLE_DIR [--port 8080] [--host 127.0.0.1] [--max-k 1000] [--max-history 1000]
               [--max-batch 256] [--retriever auto|exact|faiss] [--coalesce on|off] [--drain-timeout 10]
               [--admin-token-file FILE | --admin-token T | env SEQREC_ADMIN_TOKEN] [--admin-bundle NAME=DIR ...]
               [--admin-allowed-host NAME ...] [--admin-allowed-origin ORIGIN ...] [--request-timeout 10]
               [--headers-timeout 5] [--connection-timeout 30] [--keep-alive-timeout 5] [--max-connections 1000]
               [--max-json-depth 32] [--reload-timeout 30]
      HTTP JSON API (docs/serving.md; timeouts in seconds). SIGTERM/SIGINT: graceful stop; SIGHUP: reload the bundle.
      POST /admin/reload only with an admin token.
  seqrec plot embeddings --model DIR [--categories FILE | --data FILE] [--method umap|pca] [--max-items 5000] [--out PATH]
  seqrec plot curves --model DIR | --run HISTORY.json [--out PATH]
  seqrec plot interests --model DIR (--user ID --data FILE | --history ID,ID,...) [--categories FILE] [--k 5] [--out PATH]
      PATH.svg and PATH.png (default PATH: DIR.plots/embeddings, DIR.plots/curves, DIR.plots/interests,
      next to the bundle, never inside it). --categories takes
      MovieLens u.item or movies.dat (colour = first genre) or 'item,category' lines; --title replaces the title.

Common: --backend NAME forces a TF.js backend (also SEQREC_BACKEND); --help.
`;

const OPTIONS = {
  help: { type: 'boolean', short: 'h' },
  backend: { type: 'string' },
  data: { type: 'string' },
  format: { type: 'string' },
  delimiter: { type: 'string' },
  model: { type: 'string' },
  interests: { type: 'string' },
  protocol: { type: 'string' },
  dim: { type: 'string' },
  'max-len': { type: 'string' },
  epochs: { type: 'string' },
  patience: { type: 'string' },
  batch: { type: 'string' },
  lr: { type: 'string' },
  'samples-per-user': { type: 'string' },
  'min-count': { type: 'string' },
  'k-core': { type: 'string' },
  seed: { type: 'string' },
  'split-seed': { type: 'string' },
  similarity: { type: 'string' },
  out: { type: 'string' },
  json: { type: 'string' },
  history: { type: 'string' },
  k: { type: 'string' },
  'exclude-seen': { type: 'boolean' },
  'skip-malformed': { type: 'boolean' },
  force: { type: 'boolean' },
  port: { type: 'string' },
  host: { type: 'string' },
  'max-k': { type: 'string' },
  'max-history': { type: 'string' },
  'max-batch': { type: 'string' },
  retriever: { type: 'string' },
  'admin-token': { type: 'string' },
  'admin-token-file': { type: 'string' },
  'admin-bundle': { type: 'string', multiple: true },
  'admin-allowed-host': { type: 'string', multiple: true },
  'admin-allowed-origin': { type: 'string', multiple: true },
  'request-timeout': { type: 'string' },
  'headers-timeout': { type: 'string' },
  'connection-timeout': { type: 'string' },
  'keep-alive-timeout': { type: 'string' },
  'max-connections': { type: 'string' },
  'max-json-depth': { type: 'string' },
  'reload-timeout': { type: 'string' },
  coalesce: { type: 'string' },
  'drain-timeout': { type: 'string' },
  faiss: { type: 'string' },
  categories: { type: 'string' },
  method: { type: 'string' },
  'max-items': { type: 'string' },
  user: { type: 'string' },
  run: { type: 'string' },
  title: { type: 'string' },
  models: { type: 'string' },
  split: { type: 'string' },
  md: { type: 'string' },
  parallelism: { type: 'string' },
  loss: { type: 'string' },
  negatives: { type: 'string' },
  sampler: { type: 'string' },
  alpha: { type: 'string' },
  mode: { type: 'string' },
  test: { type: 'string' },
  optimizer: { type: 'string' },
  momentum: { type: 'string' },
  preset: { type: 'string' },
  'item-gradients': { type: 'string' },
  diversity: { type: 'string' },
  sharpen: { type: 'string' },
} as const;

export type CliFlags = ReturnType<typeof parse>['values'];

function parse(argv: string[]) {
  return parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });
}

async function main(argv: string[]): Promise<number> {
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(argv);
  } catch (err) {
    process.stderr.write(`seqrec: ${(err as Error).message}\n\n${USAGE}`);
    return 2;
  }
  const { values, positionals } = parsed;
  const command = positionals[0];
  if (values.help || !command) {
    process.stdout.write(USAGE);
    return command || values.help ? 0 : 2;
  }
  // Lines go through the progress reporter so they never garble a progress bar on stderr.
  const log = cliProgress().log;
  try {
    // A serving process answers small requests: one wasm thread beats a pool that fights the
    // event loop and the other processes for the cores (docs/serving.md, "Threads").
    if (command === 'serve' && (process.env.SEQREC_WASM_THREADS ?? '') === '') process.env.SEQREC_WASM_THREADS = String(SERVE_WASM_THREADS);
    if (values.backend) await useBackend(values.backend);
    else await initBackend();
    reportBackendOnce(log);
    switch (command) {
      case 'demo':
        await runDemo(values, log);
        return 0;
      case 'train':
        await runTrain(values, log);
        return 0;
      case 'eval':
        await runEval(values, log);
        return 0;
      case 'bench':
        await runBench(values, log);
        return 0;
      case 'recommend':
        await runRecommend(values, log);
        return 0;
      case 'export':
        await runExport(values, log);
        return 0;
      case 'serve':
        await runServe(values, log);
        return 0;
      case 'plot':
        await runPlot(positionals[1], values, log);
        return 0;
      default:
        process.stderr.write(`seqrec: unknown command '${command}'\n\n${USAGE}`);
        return 2;
    }
  } catch (err) {
    if (err instanceof SeqrecError) {
      process.stderr.write(`seqrec ${command}: ${err.message}\n`);
      return 1;
    }
    throw err;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err) => {
    process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
    process.exitCode = 1;
  },
);
