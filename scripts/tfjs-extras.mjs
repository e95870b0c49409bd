#!/usr/bin/env node
// Bundles the parts of @tensorflow/tfjs-core that its Node build leaves out: the gradient of
// every kernel (`tf.grad`, `optimizer.minimize`) and the chained tensor methods (`x.reshape()`).
//
// tfjs-core ships them only as ES modules with extensionless relative imports
// (dist/register_all_gradients.js, dist/public/chained_ops/register_all_chained_ops.js), which
// Node cannot load; the @tensorflow/tfjs umbrella inlines them into its bundle and in doing so
// drags in tfjs-layers, -converter, -data and -backend-webgl. This script does just the inlining.
// The bundled copy of tfjs-core's internals registers into tfjs-core's process-wide registries
// (gradients, engine, Tensor prototype live on globalThis), exactly as the umbrella's copy does;
// tfjs-core itself stays external so it is loaded first and only once.
//
//   node scripts/tfjs-extras.mjs            writes src/backend/tfjs-extras.js (for tsx, tests)
//   import { bundleTfjsExtras } from ...    used by scripts/build.mjs for dist/esm and dist/cjs
//
// `npm ci`/`npm install` (prepare) and `npm test` (pretest) run it; the output is not committed
// (it is generated from the installed tfjs-core, whose licence header it keeps).
import { build } from 'esbuild';
import { fileURLToPath } from 'node:url';

const ENTRY = [
  "import '@tensorflow/tfjs-core';",
  "import '@tensorflow/tfjs-core/dist/register_all_gradients.js';",
  "import '@tensorflow/tfjs-core/dist/public/chained_ops/register_all_chained_ops.js';",
].join('\n');

/** Writes the bundle to `outfile` as `format` ('esm' | 'cjs'). */
export async function bundleTfjsExtras(outfile, format) {
  await build({
    stdin: { contents: ENTRY, resolveDir: fileURLToPath(new URL('..', import.meta.url)), sourcefile: 'tfjs-extras-entry.js' },
    bundle: true,
    outfile,
    format,
    platform: 'node',
    target: 'node20',
    minify: true,
    legalComments: 'eof',
    logLevel: 'warning',
    plugins: [
      {
        // Only the bare package is external: the deep imports above are what gets bundled.
        name: 'tfjs-core-external',
        setup(b) {
          b.onResolve({ filter: /^@tensorflow\/tfjs-core$/ }, (args) => ({ path: args.path, external: true }));
        },
      },
    ],
  });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  await bundleTfjsExtras(fileURLToPath(new URL('../src/backend/tfjs-extras.js', import.meta.url)), 'esm');
}
