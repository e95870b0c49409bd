#!/usr/bin/env node
// `npm run setup:faiss` in a clone of seqrec: the same code as `seqrec setup faiss`
// (src/cli/setup/faiss.ts, which documents the steps), run from the sources through tsx because
// CI calls this right after `npm ci`, before any build. Flags: --force, --check, --no-cache.
import { tsImport } from 'tsx/esm/api';

const FLAGS = { '--force': 'force', '--check': 'check', '--no-cache': 'noCache' };
const options = {};
for (const arg of process.argv.slice(2)) {
  if (!(arg in FLAGS)) {
    console.error(`setup:faiss: unknown flag ${arg} (flags: ${Object.keys(FLAGS).join(', ')})`);
    process.exit(2);
  }
  options[FLAGS[arg]] = true;
}
const { setupFaiss, SetupFailed } = await tsImport('../src/cli/setup/faiss.ts', import.meta.url);
try {
  process.exitCode = await setupFaiss({ ...options, say: (line) => console.log(`[setup:faiss] ${line}`) });
} catch (err) {
  if (!(err instanceof SetupFailed)) throw err;
  console.error(`[setup:faiss] ERROR: ${err.message}`);
  process.exitCode = err.exitCode;
}
