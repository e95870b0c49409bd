/**
 * Loaders and k-core on the real datasets in ../shared/data (never copied into the repo).
 * Skipped, with a message, when that folder is absent.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { kCore } from '../../src/data/filter.js';
import { loadInteractions } from '../../src/data/loaders.js';
import type { InteractionLog } from '../../src/data/types.js';
import { SHARED_DATA, skipWithoutSharedData } from './helpers.js';

function counts(log: InteractionLog): { users: number; items: number; interactions: number } {
  const items = new Set<string>();
  let interactions = 0;
  for (const s of log.sequences) {
    for (const i of s.items) items.add(i);
    interactions += s.items.length;
  }
  return { users: log.sequences.length, items: items.size, interactions };
}

describe('real datasets', { skip: skipWithoutSharedData }, () => {
  test('ml-100k u.data: 943 users, 1682 items, 100000 interactions, stable time order', async () => {
    const path = join(SHARED_DATA, 'ml-100k/u.data');
    const log = await loadInteractions(path);
    assert.equal(log.stats.format, 'movielens-udata');
    assert.deepEqual(counts(log), { users: 943, items: 1682, interactions: 100000 });
    assert.equal(log.stats.interactions, 100000);

    // Independent expectation for one user with many same-second ties: file order among ties.
    const rows = readFileSync(path, 'utf8')
      .split('\n')
      .filter((l) => l.startsWith('405\t'))
      .map((l, i) => ({ item: l.split('\t')[1], time: Number(l.split('\t')[3]), i }));
    rows.sort((a, b) => a.time - b.time || a.i - b.i);
    const user = log.sequences.find((s) => s.user === '405');
    assert.ok(user);
    assert.ok(new Set(rows.map((r) => r.time)).size < rows.length, 'user 405 should have timestamp ties');
    assert.deepEqual(
      user.items,
      rows.map((r) => r.item),
    );

    for (const s of log.sequences) {
      for (let i = 1; i < s.timestamps.length; i++) assert.ok(s.timestamps[i - 1] <= s.timestamps[i]);
    }
  });

  test('ml-100k u.data with minRating 4 keeps the 4- and 5-star ratings', async () => {
    const log = await loadInteractions(join(SHARED_DATA, 'ml-100k/u.data'), { minRating: 4 });
    assert.equal(log.stats.interactions, 34174 + 21201);
    assert.equal(log.stats.filtered, 100000 - 34174 - 21201);
  });

  test('amazon-beauty Beauty.txt: 22363 users, 12101 items, 198502 interactions', async () => {
    const log = await loadInteractions(join(SHARED_DATA, 'amazon-beauty/Beauty.txt'));
    assert.equal(log.stats.format, 'sequence');
    assert.deepEqual(counts(log), { users: 22363, items: 12101, interactions: 198502 });
    assert.deepEqual(log.sequences[0], { user: '1', items: ['1', '2', '3', '4', '5'], timestamps: [0, 1, 2, 3, 4] });
    // Already 5-core: k-core must leave it unchanged after one confirming pass.
    const { report } = kCore(log.sequences);
    assert.equal(report.interactionsAfter, 198502);
    assert.equal(report.rounds, 1);
  });

  test('diginetica-sample: semicolon CSV grouped by session and sorted by timeframe', async () => {
    const log = await loadInteractions(join(SHARED_DATA, 'diginetica-sample/train-item-views.csv'));
    assert.equal(log.stats.format, 'session'); // a session header: detected as the session preset
    assert.equal(log.stats.lines, 12392);
    assert.deepEqual(counts(log), { users: 2986, items: 7139, interactions: 12391 });
    assert.equal(log.sequences[0].user, '1');
    for (const s of log.sequences) {
      for (let i = 1; i < s.timestamps.length; i++) assert.ok(s.timestamps[i - 1] <= s.timestamps[i]);
    }
  });

  test('ml-1m: 5-core of ml-1m.txt matches the SASRec statistics (6040 / 3416 / 999611)', async () => {
    const log = await loadInteractions(join(SHARED_DATA, 'ml-1m/ml-1m.txt'));
    assert.deepEqual(counts(log), { users: 6040, items: 3706, interactions: 1000209 });
    const { sequences, report } = kCore(log.sequences, { minUserInteractions: 5, minItemInteractions: 5 });
    assert.equal(sequences.length, 6040);
    assert.equal(report.itemsAfter, 3416);
    assert.equal(report.interactionsAfter, 999611);
  });

  test('ml-1m.ratings.csv with minRating 4 (rating column found by name, ordered by pos)', async () => {
    const log = await loadInteractions(join(SHARED_DATA, 'ml-1m/ml-1m.ratings.csv'), { minRating: 4 });
    assert.equal(log.stats.interactions, 348971 + 226310);
    const first = log.sequences[0];
    assert.equal(first.user, '1');
    // User 1's first two movies (pos 0 and 1) are both rated 4 in the file.
    assert.deepEqual(first.items.slice(0, 2), ['3186', '1721']);
  });
});
