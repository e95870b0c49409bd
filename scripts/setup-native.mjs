#!/usr/bin/env node
// `npm run setup:native` in a clone of seqrec: the same code as `seqrec setup native`
// (src/cli/setup/native.ts, which documents the steps), run from the sources through tsx because
// CI calls this right after `npm ci`, before any build. Flags: --force, --check, --no-cache.
import { tsImport } from 'tsx/esm/api';

const FLAGS = { '--force': 'force', '--check': 'check', '--no-cache': 'noCache' };
const options = {};
for (const arg of process.argv.slice(2)) {
  if (!(arg in FLAGS)) {
    console.error(`setup:native: unknown flag ${arg} (flags: ${Object.keys(FLAGS).join(', ')})`);
    process.exit(2);
  }
  options[FLAGS[arg]] = true;
}
const { setupNative, SetupFailed } = await tsImport('../src/cli/setup/native.ts', import.meta.url);
try {
  process.exitCode = await setupNative({ ...options, say: (line) => console.log(`[setup:native] ${line}`) });
} catch (err) {
  if (!(err instanceof SetupFailed)) throw err;
  console.error(`[setup:native] ERROR: ${err.message}`);
  process.exitCode = err.exitCode;
}
