import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ItemVocabulary } from '../../src/data/vocabulary.js';
import { seqrecError } from './helpers.js';

// Counts: a 2, b 3, c 1, d 1; first appearance a, b, c, d.
const lists = [
  ['a', 'b', 'b'],
  ['c', 'b', 'a', 'd'],
];

describe('ItemVocabulary', () => {
  test("'frequency' order: most frequent first, ties by first appearance; 0 is padding", () => {
    const v = ItemVocabulary.build(lists);
    assert.deepEqual(v.items(), ['b', 'a', 'c', 'd']);
    assert.equal(v.encode('b'), 1);
    assert.equal(v.encode('a'), 2);
    assert.equal(v.encode('c'), 3);
    assert.equal(v.encode('d'), 4);
    assert.equal(v.size, 5);
    assert.equal(v.numItems, 4);
    assert.equal(v.decode(1), 'b');
    assert.equal(v.decode(4), 'd');
  });

  test("'firstSeen' order", () => {
    const v = ItemVocabulary.build(lists, { order: 'firstSeen' });
    assert.deepEqual(v.items(), ['a', 'b', 'c', 'd']);
  });

  test('builds the same from UserSequence[]', () => {
    const seqs = lists.map((items, i) => ({ user: `u${i}`, items, timestamps: items.map((_, t) => t) }));
    assert.deepEqual(ItemVocabulary.build(seqs).items(), ItemVocabulary.build(lists).items());
  });

  test('unknown ids and indices', () => {
    const v = ItemVocabulary.build(lists);
    assert.equal(v.encode('zz'), undefined);
    assert.equal(v.has('zz'), false);
    assert.equal(v.has('a'), true);
    assert.throws(() => v.encodeOrThrow('zz'), seqrecError('unknown_item', /'zz'/));
    assert.throws(() => v.decode(0), seqrecError('invalid_argument', /padding/));
    assert.throws(() => v.decode(5), seqrecError('unknown_item', /out of range 1\.\.4/));
    assert.throws(() => v.decode(1.5), seqrecError('unknown_item'));
    assert.deepEqual([...v.encodeAll(['d', 'b'])], [4, 1]);
    assert.throws(() => v.encodeAll(['a', 'nope']), seqrecError('unknown_item', /'nope'/));
  });

  test('JSON round trip', () => {
    const v = ItemVocabulary.build(lists);
    const json = v.toJSON();
    assert.deepEqual(json, { format: 'seqrec-vocabulary', version: 1, items: ['b', 'a', 'c', 'd'] });
    const back = ItemVocabulary.fromJSON(JSON.parse(JSON.stringify(v)));
    assert.deepEqual(back.items(), v.items());
    for (const id of ['a', 'b', 'c', 'd']) assert.equal(back.encode(id), v.encode(id));
    assert.deepEqual(ItemVocabulary.fromJSON(JSON.stringify(json)).items(), v.items());
    // The serialized copy is independent of the vocabulary.
    json.items.push('x');
    assert.equal(v.numItems, 4);
  });

  test('fromJSON rejects bad input with bundle_invalid', () => {
    const ok = { format: 'seqrec-vocabulary', version: 1, items: ['a', 'b'] };
    assert.throws(() => ItemVocabulary.fromJSON({ ...ok, format: 'other' }), seqrecError('bundle_invalid', /format tag is "other"/));
    assert.throws(() => ItemVocabulary.fromJSON({ ...ok, version: 2 }), seqrecError('bundle_invalid', /unsupported version 2/));
    assert.throws(() => ItemVocabulary.fromJSON({ ...ok, items: ['a', 'b', 'a'] }), seqrecError('bundle_invalid', /duplicate item id 'a'/));
    assert.throws(() => ItemVocabulary.fromJSON({ ...ok, items: ['a', 7] }), seqrecError('bundle_invalid', /position 1 is number, not a string/));
    assert.throws(() => ItemVocabulary.fromJSON({ ...ok, items: 'ab' }), seqrecError('bundle_invalid', /array of strings/));
    assert.throws(() => ItemVocabulary.fromJSON(null), seqrecError('bundle_invalid', /expected an object/));
    assert.throws(() => ItemVocabulary.fromJSON([1]), seqrecError('bundle_invalid', /expected an object/));
    assert.throws(() => ItemVocabulary.fromJSON('{not json'), seqrecError('bundle_invalid', /not valid JSON/));
  });
});
