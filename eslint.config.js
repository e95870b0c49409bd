// ESLint with typescript-eslint's recommended rules. Type-aware rules are left out: `tsc
// --strict` already checks types, and they would double the lint time.
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'bench/results/**', 'docs/api/**', 'src/backend/simd/kernels.wasm.ts'] },
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
    },
  },
);
