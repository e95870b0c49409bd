/**
 * The command line as a new user meets it (issue #16): per-command flags and help, unknown
 * flags and commands named with a hint before the backend starts, flag values checked before
 * any data is read, and `recommend` answering as the API does.
 */
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DATA_FORMATS } from '../../src/data/formats/index.js';
import { TRAIN_FLAGS } from '../../src/cli/commands/train-flags.js';
import { kebab } from '../../src/cli/flags.js';
import { Recommender } from '../../src/serve/recommender.js';
import { setupBackend } from '../helpers.js';
import { runCli, trainTinyBundle } from '../serve/helpers.js';

const BACKEND_LINE = /seqrec backend:/;

async function cli(args: string[]): Promise<{ code: number | string; stdout: string; stderr: string }> {
  const p = runCli(args);
  const code = await p.exited;
  return { code, stdout: p.stdout(), stderr: p.stderr() };
}

describe('flags and commands', () => {
  it('a flag of another command is refused, naming both commands, in one line and before the backend', async () => {
    const train = await cli(['train', '--data', 'x.txt', '--parallelism', '2']);
    assert.equal(train.code, 2);
    assert.match(train.stderr, /^seqrec train: --parallelism is not a flag of seqrec train \(it belongs to bench\); seqrec train --help lists its flags\n$/);
    const serve = await cli(['serve', '--model', 'x', '--epochs', '3']);
    assert.equal(serve.code, 2);
    assert.match(serve.stderr, /^seqrec serve: --epochs is not a flag of seqrec serve \(it belongs to demo, train, bench, tune\); seqrec serve --help/);
    for (const r of [train, serve]) {
      assert.doesNotMatch(r.stderr, BACKEND_LINE);
      assert.equal(r.stdout, '', 'no help dumped');
    }
  });

  it('a misspelt flag suggests the right one', async () => {
    const r = await cli(['train', '--epoch', '3']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /^seqrec train: unknown flag --epoch \(did you mean '--epochs'\?\)/);
    const eq = await cli(['serve', '--drain-timeot=3']);
    assert.match(eq.stderr, /unknown flag --drain-timeot \(did you mean '--drain-timeout'\?\)/);
  });

  it('an unknown command fails with a hint without starting the backend', async () => {
    const r = await cli(['trian', '--data', 'x.txt']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /^seqrec: unknown command 'trian' \(did you mean 'train'\?\)/);
    assert.doesNotMatch(r.stderr, BACKEND_LINE);
    const plot = await cli(['plot', 'curve']);
    assert.equal(plot.code, 2);
    assert.match(plot.stderr, /seqrec plot: say which: seqrec plot embeddings\|curves\|interests \(got 'curve' \(did you mean 'curves'\?\)\)/);
  });

  it('--epochs 0 is refused before the data is read or the backend starts', async () => {
    const r = await cli(['train', '--data', '/nonexistent/seqrec-cli-test.txt', '--epochs', '0']);
    assert.equal(r.code, 1);
    assert.equal(r.stderr, "seqrec train: --epochs must be an integer >= 1, got '0'\n");
    const model = await cli(['train', '--data', '/nonexistent/seqrec-cli-test.txt', '--model', 'gru4recc']);
    assert.match(model.stderr, /^seqrec train: --model must be one of gru4rec, .* got 'gru4recc' \(did you mean 'gru4rec'\?\)\n$/);
    // A missing --data is one message with one prefix.
    const missing = await cli(['train']);
    assert.equal(missing.stderr, 'seqrec train: --data is required\n');
  });

  it("per-command --help lists that command's flags and every data format", async () => {
    const r = await cli(['train', '--help']);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /^Usage: seqrec train --data FILE/);
    for (const key of Object.keys(TRAIN_FLAGS)) assert.match(r.stdout, new RegExp(`--${kebab(key)}\\b`), `--${kebab(key)} missing`);
    const formats = /--format <format>\s+([^]*?)\(default: auto\)/.exec(r.stdout)![1].replace(/\s+/g, ' ');
    for (const f of ['auto', ...DATA_FORMATS]) assert.ok(formats.includes(` ${f},`) || formats.includes(` ${f} `), `format ${f} missing from: ${formats}`);
    assert.doesNotMatch(r.stdout, /--parallelism|--port/);
    const serve = await cli(['serve', '--help']);
    assert.match(serve.stdout, /--drain-timeout <s>/);
    assert.doesNotMatch(serve.stdout, /--epochs/);
    const top = await cli(['--help']);
    for (const c of ['demo', 'train', 'eval', 'bench', 'recommend', 'export', 'embed', 'serve', 'plot', 'setup'])
      assert.match(top.stdout, new RegExp(`^  ${c}\\b`, 'm'));
  });
});

describe('seqrec recommend', () => {
  let bundle: string;
  let items: readonly string[];
  before(async () => {
    await setupBackend();
    const tiny = await trainTinyBundle({ seed: 5, epochs: 1 });
    bundle = tiny.dir;
    items = tiny.dataset.vocabulary.items();
  });
  after(() => rm(dirname(bundle), { recursive: true, force: true }));

  it('leaves the history out by default and gives what the Recommender gives', async () => {
    const api = await Recommender.load(bundle, { warmUp: false });
    try {
      const history = items.slice(0, 3);
      const all = items.length;
      const r = await cli(['recommend', '--model', bundle, '--history', history.join(','), '--k', String(all)]);
      assert.equal(r.code, 0, r.stderr);
      const ids = (JSON.parse(r.stdout) as { recommendations: { item: string }[] }).recommendations.map((x) => x.item);
      assert.equal(ids.length, all - history.length);
      for (const id of history) assert.ok(!ids.includes(id), `history item ${id} recommended`);
      assert.deepEqual(
        ids,
        api.recommend(history, { k: all }).items.map((x) => x.id),
      );
      const seen = await cli(['recommend', '--model', bundle, '--history', history.join(','), '--k', String(all), '--include-seen']);
      const withSeen = (JSON.parse(seen.stdout) as { recommendations: { item: string }[] }).recommendations.map((x) => x.item);
      assert.equal(withSeen.length, all);
      assert.deepEqual(
        withSeen,
        api.recommend(history, { k: all, excludeSeen: false }).items.map((x) => x.id),
      );
      // The old --exclude-seen still works (it is the default now).
      const old = await cli(['recommend', '--model', bundle, '--history', history.join(','), '--k', String(all), '--exclude-seen']);
      assert.deepEqual(
        (JSON.parse(old.stdout) as { recommendations: { item: string }[] }).recommendations.map((x) => x.item),
        ids,
      );
    } finally {
      api.dispose();
    }
  });
});
