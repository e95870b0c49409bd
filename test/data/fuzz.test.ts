/**
 * Property-based fuzzing of the loaders (fast-check, fixed seeds): well-formed files load back
 * exactly as written, and arbitrary text or bytes either load into data that really is in the
 * file or fail with a SeqrecError — never another exception, never invented or altered data.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import fc from 'fast-check';
import { SeqrecError } from '../../src/errors.js';
import { loadInteractions, type LoadOptions } from '../../src/data/loaders.js';
import type { UserSequence } from '../../src/data/types.js';

const dir = mkdtempSync(join(tmpdir(), 'seqrec-fuzz-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const ID = fc.stringMatching(/^[A-Za-z0-9_.]{1,12}$/);
const RECORD = fc.record({ user: ID, item: ID, time: fc.integer({ min: 0, max: 2_000_000_000 }) });

/** What the loader must return for `records`: users by first appearance, stable time order. */
function expected(records: readonly { user: string; item: string; time: number }[]): UserSequence[] {
  const byUser = new Map<string, { item: string; time: number }[]>();
  for (const r of records) {
    let list = byUser.get(r.user);
    if (!list) byUser.set(r.user, (list = []));
    list.push({ item: r.item, time: r.time });
  }
  return [...byUser].map(([user, list]) => {
    const sorted = [...list].sort((a, b) => a.time - b.time); // Array.prototype.sort is stable
    return { user, items: sorted.map((e) => e.item), timestamps: sorted.map((e) => e.time) };
  });
}

type Writer = (records: readonly { user: string; item: string; time: number }[]) => { name: string; text: string };

const WRITERS: Record<string, Writer> = {
  csv: (rs) => ({ name: 'log.csv', text: ['user,item,timestamp', ...rs.map((r) => `${r.user},${r.item},${r.time}`)].join('\n') + '\n' }),
  tsv: (rs) => ({ name: 'log.tsv', text: ['user_id\titem_id\ttime', ...rs.map((r) => `${r.user}\t${r.item}\t${r.time}`)].join('\n') }),
  jsonl: (rs) => ({ name: 'log.jsonl', text: rs.map((r) => JSON.stringify({ user: r.user, item: r.item, timestamp: r.time })).join('\r\n') }),
};

let fileNo = 0;
function write(name: string, content: string | Uint8Array): string {
  const path = join(dir, `${fileNo++ % 8}-${name}`);
  writeFileSync(path, content);
  return path;
}

/** Loads, returning the log or the SeqrecError; any other exception fails the property. */
async function load(path: string, options: LoadOptions): Promise<{ sequences: UserSequence[] } | SeqrecError> {
  try {
    return await loadInteractions(path, options);
  } catch (e) {
    if (e instanceof SeqrecError) return e;
    throw new Error(`loadInteractions threw a non-SeqrecError: ${e instanceof Error ? e.stack : String(e)}`);
  }
}

describe('loader fuzz (fast-check)', () => {
  for (const [format, writer] of Object.entries(WRITERS)) {
    it(`${format}: a well-formed file loads back exactly as written (700 cases)`, async () => {
      await fc.assert(
        fc.asyncProperty(fc.array(RECORD, { minLength: 1, maxLength: 40 }), async (records) => {
          const { name, text } = writer(records);
          const got = await load(write(name, text), {});
          if (got instanceof SeqrecError) throw new Error(`a well-formed ${format} file was refused: ${got.message}`);
          assert.deepEqual(got.sequences, expected(records));
        }),
        { seed: 1401, numRuns: 700 },
      );
    });
  }

  /** Lines made of id-like tokens, numbers, separators and junk, so parsers get close calls. */
  const TOKEN = fc.oneof(
    ID,
    fc.constantFrom(
      'user',
      'item',
      'timestamp',
      'rating',
      '1e999',
      '-1e999',
      'NaN',
      'Infinity',
      '',
      ' ',
      '"',
      "'",
      '{',
      '}',
      '::',
      '\u0000',
      '\uFEFF',
      '__proto__',
    ),
    fc.integer().map(String),
    fc.double().map(String),
    fc.string({ maxLength: 6 }),
  );
  const LINE = fc.array(TOKEN, { maxLength: 6 }).chain((tokens) => fc.constantFrom(',', '\t', ' ', '::', ';').map((sep) => tokens.join(sep)));
  const TEXT = fc.array(LINE, { maxLength: 30 }).map((lines) => lines.join('\n'));
  const NAMES = fc.constantFrom('data.csv', 'data.tsv', 'data.txt', 'data.jsonl', 'ratings.dat', 'u.data');
  const OPTIONS = fc.record({ onMalformed: fc.constantFrom<'throw' | 'skip'>('throw', 'skip') });

  /** Every loaded id occurs in the text, times are finite, and no more rows than lines came out. */
  function assertFaithful(text: string, got: { sequences: UserSequence[] }): void {
    const lines = text.split(/\r?\n/).filter((l) => l.trim() !== '').length;
    let rows = 0;
    for (const s of got.sequences) {
      assert.ok(text.includes(s.user), `user ${JSON.stringify(s.user)} is not in the file`);
      assert.ok(s.user.length > 0 && s.user.length <= 512, `user id of length ${s.user.length}`);
      assert.equal(s.items.length, s.timestamps.length);
      for (const item of s.items) {
        assert.ok(text.includes(item), `item ${JSON.stringify(item)} is not in the file`);
        assert.ok(item.length > 0 && item.length <= 512, `item id of length ${item.length}`);
      }
      for (const t of s.timestamps) assert.ok(Number.isFinite(t), `non-finite timestamp ${t}`);
      rows += s.items.length;
    }
    // A `sequence` line holds several interactions; the other formats one per line.
    if (!got.sequences.length) assert.fail('a load that succeeds has at least one interaction');
    assert.ok(rows <= lines * 6, `${rows} interactions from ${lines} lines`);
  }

  it('arbitrary text: a faithful load or a SeqrecError (3,000 cases)', async () => {
    await fc.assert(
      fc.asyncProperty(TEXT, NAMES, OPTIONS, async (text, name, options) => {
        const got = await load(write(name, text), options);
        if (!(got instanceof SeqrecError)) assertFaithful(text, got);
      }),
      { seed: 1402, numRuns: 3000 },
    );
  });

  it('arbitrary bytes: a faithful load or a SeqrecError (1,500 cases)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 400 }), NAMES, OPTIONS, async (bytes, name, options) => {
        const got = await load(write(name, bytes), options);
        if (got instanceof SeqrecError) return;
        // Binary (a NUL) or text that is not UTF-8 never loads: its ids would be altered.
        assert.ok(!bytes.includes(0), 'a file with a NUL byte loaded');
        assert.ok(!Buffer.from(bytes).toString('utf8').includes('\uFFFD'), 'a file that is not UTF-8 loaded');
        assertFaithful(Buffer.from(bytes).toString('utf8'), got);
      }),
      { seed: 1403, numRuns: 1500 },
    );
  });
});
