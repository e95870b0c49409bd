/** Import rules checked in CI (`npm run check:structure`): no cycles, nothing imports tests or benches. */
module.exports = {
  forbidden: [
    { name: 'no-circular', severity: 'error', from: {}, to: { circular: true } },
    { name: 'src-not-to-test-or-bench', severity: 'error', from: { path: '^src/' }, to: { path: '^(test|bench|examples)/' } },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
  },
};
