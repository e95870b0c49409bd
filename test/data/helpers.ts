/** Shared helpers of the data-layer tests. */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SeqrecError, type SeqrecErrorCode } from '../../src/errors.js';

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
