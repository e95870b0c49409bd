/** Plain-JS references of the multi-interest equations, for the model tests. */

/**
 * Plain-JS dynamic routing from the equations (float64):
 *   c_ki = m_i softmax_k(b_ki); s_k = Σ_i c_ki û_ki; v_k = squash_p(s_k); b_ki += û_ki · v_k.
 * u(k, i) gives û_ki (length D). Returns the capsules and every iteration's coefficients.
 */
export function referenceRouting(
  u: (k: number, i: number) => Float64Array,
  b0: number[][],
  mask: number[],
  iterations: number,
  p = 1,
  capsuleMask?: number[],
): { v: Float64Array[]; c: number[][][] } {
  const k = b0.length;
  const l = mask.length;
  const d = u(0, 0).length;
  const b = b0.map((row) => row.slice());
  const cs: number[][][] = [];
  let v: Float64Array[] = [];
  for (let it = 0; it < iterations; it++) {
    const c = Array.from({ length: k }, () => new Array<number>(l).fill(0));
    for (let i = 0; i < l; i++) {
      const act = (kk: number) => (capsuleMask ? capsuleMask[kk] : 1);
      const mx = Math.max(...b.map((row, kk) => (act(kk) ? row[i] : -Infinity)));
      const ex = b.map((row, kk) => (act(kk) ? Math.exp(row[i] - mx) : 0));
      const z = ex.reduce((a, x) => a + x, 0);
      for (let kk = 0; kk < k; kk++) c[kk][i] = (mask[i] * ex[kk]) / z;
    }
    cs.push(c);
    v = [];
    for (let kk = 0; kk < k; kk++) {
      const s = new Float64Array(d);
      for (let i = 0; i < l; i++) {
        const ui = u(kk, i);
        for (let j = 0; j < d; j++) s[j] += c[kk][i] * ui[j];
      }
      const n2 = s.reduce((a, x) => a + x * x, 0);
      const gain = Math.pow(n2 / (1 + n2), p) / Math.sqrt(n2 + 1e-9);
      v.push(s.map((x) => x * gain));
    }
    if (it < iterations - 1) {
      for (let kk = 0; kk < k; kk++) {
        for (let i = 0; i < l; i++) {
          const ui = u(kk, i);
          let dot = 0;
          for (let j = 0; j < d; j++) dot += ui[j] * v[kk][j];
          b[kk][i] += dot;
        }
      }
    }
  }
  return { v, c: cs };
}

export type Weights = Map<string, Float32Array>;

export function weightsOf(model: { namedWeights(): { name: string; variable: { dataSync(): unknown } }[] }): Weights {
  return new Map(model.namedWeights().map(({ name, variable }) => [name, variable.dataSync() as Float32Array]));
}

/** x (length n) times a row-major [n, m] matrix, plus an optional bias. */
export function vecMat(x: ArrayLike<number>, w: ArrayLike<number>, n: number, m: number, bias?: ArrayLike<number>): Float64Array {
  const out = new Float64Array(m);
  for (let j = 0; j < m; j++) {
    let s = bias ? bias[j] : 0;
    for (let i = 0; i < n; i++) s += x[i] * w[i * m + j];
    out[j] = s;
  }
  return out;
}

function row(table: Float32Array, item: number, d: number): Float32Array {
  return table.subarray(item * d, item * d + d);
}

/** MIND's interests for one history, given the initial logits b0 [K][L] (L = history length). */
export function referenceMIND(w: Weights, history: number[], b0: number[][], d: number, iterations: number, relu: boolean): Float64Array[] {
  const table = w.get('item_embeddings')!;
  const s = w.get('bilinear/kernel')!;
  const bias = w.get('bilinear/bias');
  const u = history.map((item) => vecMat(row(table, item, d), s, d, d, bias));
  const { v } = referenceRouting(
    (_k, i) => u[i],
    b0,
    history.map(() => 1),
    iterations,
  );
  if (!relu) return v;
  return v.map((x) => vecMat(x, w.get('relu/kernel')!, d, d, w.get('relu/bias')!).map((y) => Math.max(0, y)));
}

/** ComiRec-DR's interests for one history (positions 0..len-1 of the window). */
export function referenceDR(w: Weights, history: number[], k: number, d: number, iterations: number): Float64Array[] {
  const table = w.get('item_embeddings')!;
  const maps = w.get('bilinear/maps')!; // [L, D, K·D]
  const u = history.map((item, i) => vecMat(row(table, item, d), maps.subarray(i * d * k * d, (i + 1) * d * k * d), d, k * d));
  const b0 = Array.from({ length: k }, () => new Array<number>(history.length).fill(0));
  return referenceRouting(
    (kk, i) => u[i].subarray(kk * d, (kk + 1) * d),
    b0,
    history.map(() => 1),
    iterations,
  ).v;
}

/** ComiRec-SA's interests for one history: A = softmax_positions(W2 tanh(W1 (e+p) + b1)), V = A E. */
export function referenceSA(w: Weights, history: number[], k: number, d: number, h: number): Float64Array[] {
  const table = w.get('item_embeddings')!;
  const pos = w.get('positions')!;
  const logits = history.map((item, i) => {
    const x = Float64Array.from(row(table, item, d), (v, j) => v + pos[i * d + j]);
    const hidden = vecMat(x, w.get('attention/w1')!, d, h, w.get('attention/b1')!).map(Math.tanh);
    return vecMat(hidden, w.get('attention/w2')!, h, k); // [K]
  });
  const out: Float64Array[] = [];
  for (let kk = 0; kk < k; kk++) {
    const mx = Math.max(...logits.map((l) => l[kk]));
    const ex = logits.map((l) => Math.exp(l[kk] - mx));
    const z = ex.reduce((a, b) => a + b, 0);
    const v = new Float64Array(d);
    history.forEach((item, i) => {
      const e = row(table, item, d);
      for (let j = 0; j < d; j++) v[j] += (ex[i] / z) * e[j];
    });
    out.push(v);
  }
  return out;
}
