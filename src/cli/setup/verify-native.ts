/**
 * The check `seqrec setup native` runs in a child process (`node -e VERIFY_NATIVE_SCRIPT
 * ADDON`), so a broken addon cannot take the command down: load the addon, compare sgemm on
 * random matrices (all four transpose cases, alpha and beta) with a JavaScript product, and
 * print `facts()` as JSON.
 */
export const VERIFY_NATIVE_SCRIPT = `
  const addon = require(process.argv[1]);
  for (const f of ['sgemm', 'facts', 'set_threads']) if (typeof addon[f] !== 'function') throw new Error('the addon has no ' + f + '()');
  let seed = 12345;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648) * 2 - 1;
  const fill = (n) => Float32Array.from({ length: n }, rnd);
  const m = 37, n = 29, k = 53, alpha = 0.75, beta = 0.5;
  for (const ta of [0, 1]) for (const tb of [0, 1]) {
    const a = fill(m * k), b = fill(k * n), c = fill(m * n), want = new Float64Array(m * n);
    for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) {
      let s = 0;
      for (let p = 0; p < k; p++) s += a[ta ? p * m + i : i * k + p] * b[tb ? j * k + p : p * n + j];
      want[i * n + j] = alpha * s + beta * c[i * n + j];
    }
    addon.sgemm(ta, tb, m, n, k, alpha, a, b, beta, c);
    for (let i = 0; i < m * n; i++) {
      if (!(Math.abs(c[i] - want[i]) <= 1e-4 * (1 + Math.abs(want[i]))))
        throw new Error('sgemm(ta=' + ta + ', tb=' + tb + ') differs from the JavaScript product at ' + i + ': ' + c[i] + ' vs ' + want[i]);
    }
  }
  console.log(JSON.stringify(addon.facts()));
`;
