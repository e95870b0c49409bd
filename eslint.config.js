// ESLint with typescript-eslint's recommended rules. Type-aware rules are left out: `tsc
// --strict` already checks types, and they would double the lint time.
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'bench/results/**', 'docs/api/**', 'src/backend/simd/kernels.wasm.ts', 'src/backend/tfjs-extras.js'] },
  ...tseslint.configs.recommended,
  {
    // Tests and benchmarks edit arbitrary JSON (damaged manifests, raw HTTP bodies).
    files: ['test/**', 'bench/**'],
    rules: { '@typescript-eslint/no-explicit-any': 'off' },
  },
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
    },
  },
);
