// Structural facts checked in CI: no file in src/ over 500 lines (import cycles are
// dependency-cruiser's job, run by `npm run check:structure` before this).
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

const LIMIT = 500;
const long = [];
const walk = (dir) => {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) walk(path);
    else if (/\.(ts|mjs|js)$/.test(name) && !name.endsWith('.wasm.ts') && !name.startsWith('tfjs-extras')) {
      const lines = readFileSync(path, 'utf8').split('\n').length;
      if (lines > LIMIT) long.push(`${path}: ${lines} lines`);
    }
  }
};
walk('src');
if (long.length) {
  console.error(`files over ${LIMIT} lines:\n  ${long.join('\n  ')}`);
  process.exit(1);
}
console.log(`check-structure: every file in src/ has at most ${LIMIT} lines`);
