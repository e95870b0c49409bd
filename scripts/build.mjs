// Builds the ESM and CommonJS outputs with tsc (no bundler: the package ships its modules as they are).
import { execFileSync } from 'node:child_process';
import { rmSync, writeFileSync, chmodSync } from 'node:fs';

rmSync('dist', { recursive: true, force: true });
const tsc = (project) => execFileSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', project], { stdio: 'inherit' });
tsc('tsconfig.build.json');
tsc('tsconfig.cjs.json');
// dist/cjs holds CommonJS files under a "type": "module" package.
writeFileSync('dist/cjs/package.json', JSON.stringify({ type: 'commonjs' }) + '\n');
chmodSync('dist/esm/cli/main.js', 0o755);
