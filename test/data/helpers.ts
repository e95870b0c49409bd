/** Shared helpers of the data-layer tests. */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SeqrecError, type SeqrecErrorCode } from '../../src/errors.js';
import type { InteractionLog } from '../../src/data/types.js';

/** The real datasets, outside the repo (`../shared/data` from the repo root). */
export const SHARED_DATA = resolve(fileURLToPath(new URL('../../', import.meta.url)), '../shared/data');

/** `skip` value for real-data tests: false when the data folder exists, else a reason. */
export const skipWithoutSharedData: false | string = existsSync(SHARED_DATA) ? false : `real-data tests skipped: ${SHARED_DATA} not found`;

/** A fresh temp folder with the given files; call the returned cleanup when done. */
export function tempFiles(files: Record<string, string>): { dir: string; path: (name: string) => string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'seqrec-data-'));
  for (const [name, content] of Object.entries(files)) writeFileSync(join(dir, name), content);
  return { dir, path: (name) => join(dir, name), cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** An `assert.throws`/`rejects` matcher for a SeqrecError with a code and message pattern. */
export function seqrecError(code: SeqrecErrorCode, message?: RegExp) {
  return (e: unknown): boolean => {
    if (!(e instanceof SeqrecError)) throw new Error(`expected a SeqrecError, got ${String(e)}`);
    if (e.code !== code) throw new Error(`expected code ${code}, got ${e.code}: ${e.message}`);
    if (message && !message.test(e.message)) throw new Error(`message ${JSON.stringify(e.message)} does not match ${message}`);
    return true;
  };
}

/** Each sequence as [user, items, timestamps]. */
export const sequenceRows = (log: InteractionLog): [string, string[], number[]][] => log.sequences.map((s) => [s.user, s.items, s.timestamps]);

/** An `assert.throws`/`rejects` matcher for a data_parse error naming `file`, `line` and (when given) `field`. */
export function parseErrorAt(file: string, line: number, message: RegExp, field?: string) {
  return (e: unknown): boolean => {
    assert.ok(e instanceof SeqrecError, String(e));
    assert.equal(e.code, 'data_parse', e.message);
    assert.ok(e.file?.endsWith(file), e.message);
    assert.equal(e.line, line, e.message);
    assert.ok(e.message.includes(`${file} line ${line}: `), e.message);
    assert.match(e.message, message);
    if (field !== undefined) assert.equal(e.field, field, e.message);
    return true;
  };
}

/** Rejects with a data_parse error at `line` whose message matches `message`. */
export async function rejectsAt(promise: Promise<unknown>, file: string, line: number, message: RegExp, field?: string): Promise<void> {
  await assert.rejects(promise, parseErrorAt(file, line, message, field));
}
