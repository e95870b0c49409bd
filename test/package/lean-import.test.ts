/**
 * `import 'seqrec'` must not load the server or the plotting stack (fastify, resvg, umap-js,
 * vega) nor the parts of TF.js seqrec does not use. A child process imports the entry from src
 * (through tsx, as the other tests do) with a module-resolution hook that records every module
 * URL it resolves; the CommonJS side is read from require.cache.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { HEAVY } from './heavy.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

// Runs in Node's loader thread: appends each resolved URL to $SEQREC_LOAD_LOG.
const HOOKS = `
import { appendFileSync } from 'node:fs';
export async function resolve(specifier, context, next) {
  const result = await next(specifier, context);
  appendFileSync(process.env.SEQREC_LOAD_LOG, result.url + '\\n');
  return result;
}`;

/** Every module URL or file a child process loads while it runs `code` (an ES module). */
function modulesLoadedBy(code: string): string[] {
  const dir = mkdtempSync(join(tmpdir(), 'seqrec-lean-'));
  const log = join(dir, 'loaded.txt');
  try {
    const register = `import { register } from 'node:module'; register('data:text/javascript,' + encodeURIComponent(${JSON.stringify(HOOKS)}));`;
    const script = `${code}\nimport { createRequire } from 'node:module';\nimport { appendFileSync } from 'node:fs';\nappendFileSync(process.env.SEQREC_LOAD_LOG, Object.keys(createRequire(import.meta.url).cache).join('\\n') + '\\n');`;
    execFileSync(
      process.execPath,
      ['--import', 'data:text/javascript,' + encodeURIComponent(register), '--import', 'tsx', '--input-type=module', '-e', script],
      { cwd: ROOT, env: { ...process.env, SEQREC_LOAD_LOG: log }, stdio: ['ignore', 'ignore', 'pipe'] },
    );
    return readFileSync(log, 'utf8').split('\n').filter(Boolean);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function packagesIn(urls: string[]): Set<string> {
  const names = new Set<string>();
  for (const url of urls) {
    const m = /node_modules[\\/]((?:@[^\\/]+[\\/])?[^\\/]+)/.exec(url);
    if (m) names.add(m[1].replace('\\', '/'));
  }
  return names;
}

test("import 'seqrec' (src) loads neither the server, the plotting stack nor unused TF.js packages", () => {
  const entry = pathToFileURL(join(ROOT, 'src/index.ts')).href;
  const loaded = packagesIn(
    modulesLoadedBy(`const seqrec = await import(${JSON.stringify(entry)});\nif (typeof seqrec.GRU4Rec !== 'function') throw new Error('no GRU4Rec');`),
  );
  assert.ok(loaded.has('@tensorflow/tfjs-core'), `tfjs-core should be loaded, got ${[...loaded].join(', ')}`);
  assert.deepEqual(
    HEAVY.filter((name) => loaded.has(name)),
    [],
  );
});

test('the load check sees a package that is loaded (control)', () => {
  const loaded = packagesIn(modulesLoadedBy(`await import('fastify'); await import('umap-js');`));
  assert.ok(loaded.has('fastify') && loaded.has('umap-js'), [...loaded].join(', '));
});
