/** No tensor growth: a served model must run for days. (The bench checks 100,000 calls.) */
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { Recommender } from '../../src/serve/recommender.js';
import { trainTinyBundle } from './helpers.js';

let dir: string;
let items: readonly string[];
let rec: Recommender;

before(async () => {
  const b = await trainTinyBundle({ seed: 11, epochs: 1 });
  dir = b.dir;
  items = b.dataset.vocabulary.items();
  rec = await Recommender.load(dir);
});
after(async () => {
  rec.dispose();
  await rm(dirname(dir), { recursive: true, force: true });
});

describe('Recommender memory', () => {
  it('keeps tf.memory().numTensors flat over 20,000 recommend() calls', () => {
    const start = tf.memory().numTensors;
    const startBytes = tf.memory().numBytes;
    for (let i = 0; i < 20000; i++) {
      const n = i % items.length;
      const history = i % 50 === 0 ? [] : [items[n], items[(n * 7) % items.length], items[(n * 13) % items.length]];
      rec.recommend(history, { k: 20 });
      if (i % 5000 === 0) assert.equal(tf.memory().numTensors, start, `after ${i} calls`);
    }
    assert.equal(tf.memory().numTensors, start);
    assert.equal(tf.memory().numBytes, startBytes);
  });

  it('and over the other calls, failed calls and reloads', async () => {
    const start = tf.memory().numTensors;
    for (let i = 0; i < 500; i++) {
      rec.recommendMany([[items[i % items.length]], [], [items[(i + 3) % items.length], 'zz']], { k: 10 });
      rec.similarItems(items[i % items.length], 10);
      rec.userEmbedding([items[i % items.length]]);
      assert.throws(() => rec.recommend([items[0]], { k: 0 }));
    }
    assert.equal(tf.memory().numTensors, start);
    for (let i = 0; i < 5; i++) await rec.reload();
    await assert.rejects(rec.reload('/nonexistent'));
    assert.equal(tf.memory().numTensors, start);
    assert.equal(rec.info().generation, 6);
  });
});
