/**
 * The check `seqrec setup faiss` runs in a child process (`node -e VERIFY_SCRIPT PACKAGE_JSON`):
 * resolve faiss-node from that package as seqrec does, search a small IndexFlatIP and compare
 * with brute force (and searchTyped with search, where the build has it), round-trip it through a buffer, and print where faiss-node was found.
 */
export const VERIFY_SCRIPT = `
  const { createRequire } = require('node:module');
  const req = createRequire(process.argv[1]);
  const where = req.resolve('faiss-node');
  const faiss = req('faiss-node');
  const d = 16, n = 1000, nq = 5, k = 10;
  let seed = 12345;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648) * 2 - 1;
  const xb = Array.from({ length: n * d }, rnd), xq = Array.from({ length: nq * d }, rnd);
  const index = new faiss.IndexFlatIP(d);
  index.add(xb);
  if (index.ntotal() !== n || index.getDimension() !== d) throw new Error('ntotal/getDimension wrong');
  const { labels, distances } = index.search(xq, k);
  for (let q = 0; q < nq; q++) {
    const s = [];
    for (let i = 0; i < n; i++) { let t = 0; for (let j = 0; j < d; j++) t += xb[i * d + j] * xq[q * d + j]; s.push([i, t]); }
    s.sort((a, b) => b[1] - a[1]);
    for (let r = 0; r < k; r++) {
      if (labels[q * k + r] !== s[r][0] || Math.abs(distances[q * k + r] - s[r][1]) > 1e-4)
        throw new Error('search result differs from brute force at query ' + q + ', rank ' + r);
    }
  }
  // seqrec's build adds searchTyped (faiss-typed.ts); when present it must agree with search.
  let typed = 'no searchTyped';
  if (typeof index.searchTyped === 'function') {
    const t = index.searchTyped(Float32Array.from(xq), k);
    if (!(t.distances instanceof Float32Array) || t.labels.length !== nq * k) throw new Error('searchTyped returned the wrong shape');
    for (let i = 0; i < nq * k; i++) {
      if (Number(t.labels[i]) !== labels[i] || Math.fround(distances[i]) !== t.distances[i]) throw new Error('searchTyped differs from search at ' + i);
    }
    typed = 'searchTyped';
  }
  const back = faiss.Index.fromBuffer(index.toBuffer());
  if (back.ntotal() !== n) throw new Error('toBuffer/fromBuffer round trip lost vectors');
  console.log(where + ' (' + typed + ')');
`;
