/**
 * The PostgreSQL + pgvector server of the database tests: $SEQREC_TEST_DATABASE_URL when set
 * (CI starts scripts/test-postgres.mjs, or point it at a real server), else a
 * scripts/test-postgres.mjs child started here and stopped by `close`. Never a skip: without
 * either, the tests fail.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { resolve } from 'node:path';

const ROOT = resolve(import.meta.dirname, '..');

export interface TestDatabase {
  url: string;
  close(): Promise<void>;
}

export async function testDatabase(): Promise<TestDatabase> {
  const given = process.env.SEQREC_TEST_DATABASE_URL;
  if (given) return { url: given, close: async () => undefined };
  const child = spawn(process.execPath, [resolve(ROOT, 'scripts/test-postgres.mjs')], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stderr.on('data', (d) => (err += d));
  const url = await new Promise<string>((res, rej) => {
    const timer = setTimeout(() => rej(new Error(`scripts/test-postgres.mjs did not start within 60 s: ${err}`)), 60_000);
    child.stdout.on('data', (d) => {
      out += d;
      const m = /SEQREC_TEST_DATABASE_URL=(\S+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        res(m[1]);
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      rej(new Error(`scripts/test-postgres.mjs exited (${code}): ${err}`));
    });
  });
  return {
    url,
    close: () =>
      new Promise<void>((res) => {
        if (child.exitCode !== null) return res();
        child.once('exit', () => res());
        child.kill('SIGTERM');
      }),
  };
}

/** A fresh digest per test table, so tests sharing one database never meet each other's tables. */
export function testDigest(label: string): string {
  return createHash('sha256').update(`${label}:${process.pid}:${Date.now()}:${Math.random()}`).digest('hex');
}
