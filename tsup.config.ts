import { defineConfig } from 'tsup';

// One ESM + CommonJS build of the library and an ESM build of the CLI.
// Optional native accelerators are never bundled: they are loaded lazily at run time.
export default defineConfig({
  entry: { index: 'src/index.ts', cli: 'src/cli/main.ts' },
  format: ['esm', 'cjs'],
  dts: { entry: { index: 'src/index.ts' } },
  sourcemap: true,
  clean: true,
  target: 'node20',
  external: [/^@tensorflow\//, 'faiss-node'],
});
