/** The CLI progress reporter: bar on a TTY, plain periodic lines otherwise, never garbled with log lines. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Progress, countingRetriever, formatDuration, progressMode, trainingProgress } from '../../src/cli/progress.js';
import { ExactRetriever } from '../../src/retrieval/exact.js';
import type { EpochRecord } from '../../src/train/trainer.js';

function fakeStream(isTTY: boolean) {
  const chunks: string[] = [];
  return { chunks, stream: { isTTY, columns: 100, write: (s: string) => (chunks.push(s), true) } as unknown as NodeJS.WriteStream };
}

test('mode: TTY -> bar, pipe -> plain, TERM=dumb -> plain, SEQREC_PROGRESS overrides', () => {
  assert.equal(progressMode({ isTTY: true }, {}), 'bar');
  assert.equal(progressMode({ isTTY: false }, {}), 'plain');
  assert.equal(progressMode({}, {}), 'plain');
  assert.equal(progressMode({ isTTY: true }, { TERM: 'dumb' }), 'plain');
  assert.equal(progressMode({ isTTY: false }, { SEQREC_PROGRESS: 'bar' }), 'bar');
  assert.equal(progressMode({ isTTY: true }, { SEQREC_PROGRESS: 'off' }), 'off');
});

test('formatDuration', () => {
  assert.equal(formatDuration(12.3), '12s');
  assert.equal(formatDuration(75), '1m15s');
  assert.equal(formatDuration(3725), '1h02m');
  assert.equal(formatDuration(NaN), '?');
});

test('bar mode redraws one line in place and clears it before a log line', () => {
  let now = 0;
  const { chunks, stream } = fakeStream(true);
  const p = new Progress({ stream, mode: 'bar', now: () => now, redrawMs: 100 });
  const t = p.task('epoch 1/2', 10, 'batches');
  now = 1000;
  t.update(5, 'loss 1.2345');
  const last = chunks[chunks.length - 1];
  assert.match(last, /^\repoch 1\/2 \[=+>? *\]  50% 5\/10 5\.0 batches\/s ETA 1s loss 1\.2345\x1b\[K$/);
  // Throttled: a second update within redrawMs draws nothing.
  const n = chunks.length;
  now = 1050;
  t.update(6);
  assert.equal(chunks.length, n);
  p.log('a log line');
  assert.deepEqual(chunks.slice(n, n + 2), ['\r\x1b[K', 'a log line\n']);
  assert.match(chunks[n + 2], /^\repoch 1\/2 \[/); // redrawn after the line
  t.finish();
  assert.equal(chunks[chunks.length - 1], '\r\x1b[K');
  assert.ok(chunks.every((c) => !c.includes('\n') || c.endsWith('\n')));
});

test('plain mode: no control characters, one line per interval, none for short tasks', () => {
  let now = 0;
  const { chunks, stream } = fakeStream(false);
  const p = new Progress({ stream, now: () => now, intervalMs: 10_000 });
  assert.equal(p.mode, 'plain');
  const quick = p.task('quick', 3);
  quick.tick();
  quick.tick();
  quick.finish();
  assert.deepEqual(chunks, []);
  const slow = p.task('evaluating test', 100, 'users');
  for (let i = 1; i <= 100; i++) {
    now += 500; // 50 s in all
    slow.update(i);
  }
  slow.finish('evaluated 100 users');
  assert.equal(chunks.length, 6); // at 10, 20, 30, 40, 50 s + the summary
  assert.match(chunks[0], /^evaluating test  20% 20\/100 2\.0 users\/s ETA 40s\n$/);
  assert.equal(chunks[5], 'evaluated 100 users\n');
  assert.ok(chunks.every((c) => !/[\r\x1b]/.test(c)));
});

test('off mode prints log lines only', () => {
  const { chunks, stream } = fakeStream(true);
  const p = new Progress({ stream, mode: 'off' });
  const t = p.task('x', 2);
  t.tick();
  p.log('hello');
  t.finish('summary');
  assert.deepEqual(chunks, ['hello\n']);
});

test('trainingProgress: one bar per epoch from global steps, relabelled while validating', () => {
  let now = 0;
  const { chunks, stream } = fakeStream(true);
  const p = new Progress({ stream, mode: 'bar', now: () => (now += 1000), redrawMs: 0 });
  const cb = trainingProgress(p, { epochs: 2, stepsPerEpoch: 3, validUsers: 7 });
  const record = (epoch: number) => ({ epoch, steps: 3 }) as EpochRecord;
  cb.onBatchEnd!(1, 2);
  cb.onBatchEnd!(2, 4);
  assert.match(chunks[chunks.length - 1], /epoch 1\/2 .* 2\/3 .*loss 3\.0000/);
  cb.onBatchEnd!(3, 6);
  assert.match(chunks[chunks.length - 1], /epoch 1\/2 validating 7 users\.\.\./);
  cb.onEpochEnd!(record(1));
  cb.onBatchEnd!(4, 1);
  assert.match(chunks[chunks.length - 1], /epoch 2\/2 .* 1\/3 .*loss 1\.0000/);
});

test('countingRetriever ticks by users searched and forwards everything else', () => {
  const { stream } = fakeStream(false);
  const p = new Progress({ stream });
  const task = p.task('eval', 3, 'users');
  const items = Float32Array.from([0, 0, 1, 0, 0, 1, 1, 1]);
  const inner = new ExactRetriever(items, 2);
  const r = countingRetriever(inner, task);
  assert.equal(r.dim, 2);
  assert.equal(r.numItems, 4);
  assert.equal(r.metric, 'ip');
  const res = r.search(Float32Array.from([1, 0, 0, 1]), { k: 2 });
  assert.equal(task.done, 2);
  assert.deepEqual([...res.ids], [...inner.search(Float32Array.from([1, 0, 0, 1]), { k: 2 }).ids]);
  r.dispose();
  assert.throws(() => inner.search(Float32Array.from([1, 0]), { k: 1 }));
});
