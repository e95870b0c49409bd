#!/usr/bin/env node
// A PostgreSQL server with pgvector for the tests, without installing PostgreSQL: PGlite
// (Postgres compiled to WebAssembly) with its pgvector extension, served over the wire
// protocol by pglite-socket on 127.0.0.1. Prints `SEQREC_TEST_DATABASE_URL=postgres://...`
// on stdout once it accepts connections (and writes the URL to --url-file FILE when given),
// then runs until SIGTERM/SIGINT.
//
//   node scripts/test-postgres.mjs [--port 0] [--data-dir DIR] [--url-file FILE] [--max-connections 16]
//
// PGlite is a single-session database. pglite-socket refuses a second connection by default
// ("Too many connections", then closes it); with --max-connections N it accepts N and
// multiplexes their protocol messages over the one session, one at a time, keeping a client's
// open transaction to itself. seqrec runs every multi-statement exchange in a transaction, so
// that is safe for it; a default of 16 covers the tests' pools (two servers, a few each).
import { writeFileSync } from 'node:fs';
import { PGlite } from '@electric-sql/pglite';
import { vector } from '@electric-sql/pglite-pgvector';
import { PGLiteSocketServer } from '@electric-sql/pglite-socket';

const args = process.argv.slice(2);
const flag = (name, fallback) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && i + 1 < args.length ? args[i + 1] : fallback;
};
for (const a of args) {
  if (a.startsWith('--') && !['--port', '--data-dir', '--url-file', '--max-connections'].includes(a)) {
    console.error(`test-postgres: unknown flag ${a} (known: --port, --data-dir, --url-file, --max-connections)`);
    process.exit(2);
  }
}
const port = Number(flag('port', '0'));
const maxConnections = Number(flag('max-connections', '16'));
const dataDir = flag('data-dir', undefined); // default: in memory, gone at exit

const db = await PGlite.create({ dataDir, extensions: { vector } });
await db.exec('CREATE EXTENSION IF NOT EXISTS vector');
const server = new PGLiteSocketServer({ db, port, host: '127.0.0.1', maxConnections });
await server.start();
const url = `postgres://postgres@${server.getServerConn()}/postgres`;
const urlFile = flag('url-file', undefined);
if (urlFile) writeFileSync(urlFile, url + '\n');
process.stdout.write(`SEQREC_TEST_DATABASE_URL=${url}\n`);

let stopping = false;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  await server.stop().catch(() => undefined);
  await db.close().catch(() => undefined);
  process.exit(0);
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
