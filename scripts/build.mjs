// Builds dist/esm (tsc: ESM + declarations) and dist/cjs (esbuild: each module transformed to
// CommonJS; tsc: declarations). No bundling: the package ships its modules as they are.
// `import.meta.url` (used to locate worker scripts) is rewritten for CommonJS to the file's URL,
// `import.meta.resolve` to require.resolve as a URL. backend/tfjs-extras.js (tfjs-core's gradient
// and chained-op registrations, see scripts/tfjs-extras.mjs) is bundled for each format.
// The entry points (index, serve/index, plot/index, cli/main) are listed in package.json.
import { execFileSync } from 'node:child_process';
import { chmodSync, cpSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { build } from 'esbuild';
import { bundleTfjsExtras } from './tfjs-extras.mjs';

rmSync('dist', { recursive: true, force: true });
const tsc = (...args) => execFileSync(process.execPath, ['node_modules/typescript/bin/tsc', ...args], { stdio: 'inherit' });
tsc('-p', 'tsconfig.build.json');

const files = [];
const walk = (dir) => {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) walk(path);
    else if (name.endsWith('.ts') && !name.endsWith('.d.ts')) files.push(path);
  }
};
walk('src');
await build({
  entryPoints: files,
  outdir: 'dist/cjs',
  outbase: 'src',
  format: 'cjs',
  platform: 'node',
  target: 'node20',
  sourcemap: true,
  define: { 'import.meta.url': '__seqrecModuleUrl', 'import.meta.resolve': '__seqrecResolve' },
  banner: {
    js:
      'const __seqrecModuleUrl = require("node:url").pathToFileURL(__filename).href;\n' +
      'const __seqrecResolve = (specifier) => require("node:url").pathToFileURL(require.resolve(specifier)).href;',
  },
  logLevel: 'warning',
});
// The declarations are the same for both formats; under dist/cjs they are read as CommonJS.
cpSync('dist/esm', 'dist/cjs', { recursive: true, filter: (src) => statSync(src).isDirectory() || src.endsWith('.d.ts') });
for (const format of ['esm', 'cjs']) {
  await bundleTfjsExtras(`dist/${format}/backend/tfjs-extras.js`, format);
  // Side-effect only; the declaration keeps `noUncheckedSideEffectImports` consumers happy.
  writeFileSync(`dist/${format}/backend/tfjs-extras.d.ts`, 'export {};\n');
}
// dist/cjs holds CommonJS files under a "type": "module" package.
writeFileSync('dist/cjs/package.json', JSON.stringify({ type: 'commonjs' }) + '\n');
chmodSync('dist/esm/cli/main.js', 0o755);
