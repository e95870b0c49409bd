/*
 * seqrec's element-wise kernels in WebAssembly SIMD (128-bit, 4 floats a lane group).
 *
 * Why: the JavaScript versions spend most of their time in Math.exp / Math.tanh, one value at
 * a time (the row log-sum-exp of full softmax is B x N exponentials a step; a GRU layer is
 * 3 x B x H per time step). Here exp is a vectorised polynomial, four at a time.
 *
 * Built by scripts/build-simd.mjs (clang --target=wasm32 -msimd128, no libc) into
 * src/backend/simd/kernels.wasm.ts. The module has its own linear memory; callers copy their
 * arrays in and out (src/backend/simd.ts). Every pointer here is a byte offset into that
 * memory; no kernel uses static data, so there is nothing to initialise.
 *
 * exp: Cephes-style range reduction x = n ln2 + r, |r| <= ln2/2, degree-6 polynomial for e^r,
 * scaled by 2^n through the exponent bits; relative error < 3e-7 over [-87, 88]. Inputs below
 * -87.34 give 0 and above 88.38 give +inf (expf overflows a little later, at 88.72; no kernel
 * here needs that sliver: softmax feeds x − max <= 0, and σ(x) = 1 / (1 + e^-x) is 0 either way).
 */
#include <wasm_simd128.h>

typedef float f32;
typedef int i32;

static inline v128_t v_exp(v128_t x) {
  const v128_t hi = wasm_f32x4_splat(88.3762626647949f);
  const v128_t lo = wasm_f32x4_splat(-87.3365447504f);
  v128_t under = wasm_f32x4_lt(x, lo);
  v128_t over = wasm_f32x4_gt(x, hi);
  x = wasm_f32x4_min(x, hi);
  x = wasm_f32x4_max(x, lo);
  v128_t fx = wasm_f32x4_nearest(wasm_f32x4_mul(x, wasm_f32x4_splat(1.44269504088896341f)));
  /* r = x - n ln2, ln2 split in two parts to keep r exact */
  v128_t r = wasm_f32x4_sub(x, wasm_f32x4_mul(fx, wasm_f32x4_splat(0.693359375f)));
  r = wasm_f32x4_add(r, wasm_f32x4_mul(fx, wasm_f32x4_splat(2.12194440e-4f)));
  v128_t p = wasm_f32x4_splat(1.9875691500e-4f);
  p = wasm_f32x4_add(wasm_f32x4_mul(p, r), wasm_f32x4_splat(1.3981999507e-3f));
  p = wasm_f32x4_add(wasm_f32x4_mul(p, r), wasm_f32x4_splat(8.3334519073e-3f));
  p = wasm_f32x4_add(wasm_f32x4_mul(p, r), wasm_f32x4_splat(4.1665795894e-2f));
  p = wasm_f32x4_add(wasm_f32x4_mul(p, r), wasm_f32x4_splat(1.6666665459e-1f));
  p = wasm_f32x4_add(wasm_f32x4_mul(p, r), wasm_f32x4_splat(5.0000001201e-1f));
  v128_t r2 = wasm_f32x4_mul(r, r);
  p = wasm_f32x4_add(wasm_f32x4_add(wasm_f32x4_mul(p, r2), r), wasm_f32x4_splat(1.0f));
  /* 2^n: n + 127 into the exponent field */
  v128_t n = wasm_i32x4_trunc_sat_f32x4(fx);
  v128_t pow2 = wasm_i32x4_shl(wasm_i32x4_add(n, wasm_i32x4_splat(127)), 23);
  v128_t out = wasm_f32x4_mul(p, pow2);
  out = wasm_v128_bitselect(wasm_f32x4_splat(__builtin_inff()), out, over); /* above: +inf */
  return wasm_v128_andnot(out, under); /* below the range: exactly 0 */
}

static inline f32 s_exp(f32 x) {
  return wasm_f32x4_extract_lane(v_exp(wasm_f32x4_splat(x)), 0);
}

static inline v128_t v_sigmoid(v128_t x) {
  const v128_t one = wasm_f32x4_splat(1.0f);
  return wasm_f32x4_div(one, wasm_f32x4_add(one, v_exp(wasm_f32x4_neg(x))));
}

/* tanh(x) = sign(x) (1 - e) / (1 + e) with e = exp(-2|x|): no cancellation for large |x| and
 * no overflow. */
static inline v128_t v_tanh(v128_t x) {
  const v128_t one = wasm_f32x4_splat(1.0f);
  v128_t e = v_exp(wasm_f32x4_mul(wasm_f32x4_abs(x), wasm_f32x4_splat(-2.0f)));
  v128_t t = wasm_f32x4_div(wasm_f32x4_sub(one, e), wasm_f32x4_add(one, e));
  v128_t sign = wasm_v128_and(x, wasm_i32x4_splat((i32)0x80000000));
  return wasm_v128_or(t, sign);
}

#define LOAD(p) wasm_v128_load(p)
#define STORE(p, v) wasm_v128_store(p, v)

/* exp(x) of n floats, in place (used by tests against Math.exp). */
__attribute__((export_name("exp_inplace"))) void exp_inplace(f32 *x, i32 n) {
  i32 i = 0;
  for (; i + 4 <= n; i += 4) STORE(x + i, v_exp(LOAD(x + i)));
  for (; i < n; i++) x[i] = s_exp(x[i]);
}

/*
 * Row log-sum-exp of x [rows, cols], in place: x becomes exp(x - rowmax), sums[r] its row
 * sum, lse[r] = rowmax + log(sum) is left to the caller (one Math.log a row).
 */
__attribute__((export_name("exp_shift_rows"))) void exp_shift_rows(f32 *x, i32 rows, i32 cols, f32 *maxes, f32 *sums) {
  for (i32 r = 0; r < rows; r++) {
    f32 *row = x + (long)r * cols;
    v128_t vmax = wasm_f32x4_splat(-__builtin_inff());
    i32 c = 0;
    for (; c + 4 <= cols; c += 4) vmax = wasm_f32x4_pmax(vmax, LOAD(row + c));
    f32 m = wasm_f32x4_extract_lane(vmax, 0);
    for (i32 k = 1; k < 4; k++) {
      f32 v = k == 1 ? wasm_f32x4_extract_lane(vmax, 1) : k == 2 ? wasm_f32x4_extract_lane(vmax, 2) : wasm_f32x4_extract_lane(vmax, 3);
      if (v > m) m = v;
    }
    for (; c < cols; c++) if (row[c] > m) m = row[c];
    v128_t vm = wasm_f32x4_splat(m);
    v128_t acc = wasm_f32x4_splat(0.0f);
    c = 0;
    for (; c + 4 <= cols; c += 4) {
      v128_t e = v_exp(wasm_f32x4_sub(LOAD(row + c), vm));
      STORE(row + c, e);
      acc = wasm_f32x4_add(acc, e);
    }
    f32 s = wasm_f32x4_extract_lane(acc, 0) + wasm_f32x4_extract_lane(acc, 1) + wasm_f32x4_extract_lane(acc, 2) + wasm_f32x4_extract_lane(acc, 3);
    for (; c < cols; c++) {
      f32 e = s_exp(row[c] - m);
      row[c] = e;
      s += e;
    }
    maxes[r] = m;
    sums[r] = s;
  }
}

/* x[r, :] *= scale[r], in place. */
__attribute__((export_name("scale_rows"))) void scale_rows(f32 *x, i32 rows, i32 cols, const f32 *scale) {
  for (i32 r = 0; r < rows; r++) {
    f32 *row = x + (long)r * cols;
    v128_t s = wasm_f32x4_splat(scale[r]);
    i32 c = 0;
    for (; c + 4 <= cols; c += 4) STORE(row + c, wasm_f32x4_mul(LOAD(row + c), s));
    for (; c < cols; c++) row[c] *= scale[r];
  }
}

/*
 * One forward step of the GRU (see src/ops/gru-sequence.ts for the equations), for
 * the b rows of a batch:
 *   x    input projections of this step, row i at x + i * xStride, [3H]: r | z | n
 *   hp   recurrent projections h_{t-1} W_h, [b, 3H] (no bias)
 *   bias b_h [3H];  prev h_{t-1} [b, H];  mask [b] (1 real item, 0 padding)
 * Writes next h_t [b, H]; r, z, n and hn (= hp_n + b_n) [b, H] for the backward pass; and the
 * state again at out + i * outStride (the [B, L, H] output).
 */
__attribute__((export_name("gru_forward_step"))) void gru_forward_step(const f32 *x, i32 xStride, const f32 *hp, const f32 *bias, const f32 *prev,
                                                                 const f32 *mask, i32 b, i32 h, f32 *next, f32 *rs, f32 *zs, f32 *ns,
                                                                 f32 *hns, f32 *out, i32 outStride) {
  for (i32 i = 0; i < b; i++) {
    const f32 *xi = x + (long)i * xStride;
    const f32 *hpi = hp + (long)i * 3 * h;
    const f32 *pi = prev + (long)i * h;
    f32 *ni = next + (long)i * h;
    f32 *oi = out + (long)i * outStride;
    f32 mt = mask[i];
    v128_t vm = wasm_f32x4_splat(mt);
    i32 j = 0;
    for (; j + 4 <= h; j += 4) {
      v128_t hr = wasm_f32x4_add(LOAD(hpi + j), LOAD(bias + j));
      v128_t hz = wasm_f32x4_add(LOAD(hpi + h + j), LOAD(bias + h + j));
      v128_t hn = wasm_f32x4_add(LOAD(hpi + 2 * h + j), LOAD(bias + 2 * h + j));
      v128_t r = v_sigmoid(wasm_f32x4_add(LOAD(xi + j), hr));
      v128_t z = v_sigmoid(wasm_f32x4_add(LOAD(xi + h + j), hz));
      v128_t n = v_tanh(wasm_f32x4_add(LOAD(xi + 2 * h + j), wasm_f32x4_mul(r, hn)));
      v128_t hPrev = LOAD(pi + j);
      v128_t cand = wasm_f32x4_add(n, wasm_f32x4_mul(z, wasm_f32x4_sub(hPrev, n)));
      v128_t hNew = wasm_f32x4_add(hPrev, wasm_f32x4_mul(vm, wasm_f32x4_sub(cand, hPrev)));
      long k = (long)i * h + j;
      STORE(ni + j, hNew);
      STORE(rs + k, r);
      STORE(zs + k, z);
      STORE(ns + k, n);
      STORE(hns + k, hn);
      STORE(oi + j, hNew);
    }
    for (; j < h; j++) {
      f32 hr = hpi[j] + bias[j], hz = hpi[h + j] + bias[h + j], hn = hpi[2 * h + j] + bias[2 * h + j];
      v128_t pre = wasm_f32x4_make(xi[j] + hr, xi[h + j] + hz, 0, 0);
      v128_t sg = v_sigmoid(pre);
      f32 r = wasm_f32x4_extract_lane(sg, 0), z = wasm_f32x4_extract_lane(sg, 1);
      f32 n = wasm_f32x4_extract_lane(v_tanh(wasm_f32x4_splat(xi[2 * h + j] + r * hn)), 0);
      f32 hPrev = pi[j];
      f32 cand = n + z * (hPrev - n);
      f32 hNew = hPrev + mt * (cand - hPrev);
      long k = (long)i * h + j;
      ni[j] = hNew;
      rs[k] = r;
      zs[k] = z;
      ns[k] = n;
      hns[k] = hn;
      oi[j] = hNew;
    }
  }
}

/*
 * One backward step of the GRU. g: the loss gradient at this step's output, row i at
 * g + i * gStride [H]; dNext: gradient reaching h_t from later steps [b, H]; r, z, n, hn, prev
 * saved by the forward step. Writes dx (row i at dx + i * dxStride, [3H]), dhp [b, 3H] (the
 * gradient of h_{t-1} W_h + b_h) and dPrev [b, H] without the W_hᵀ term, which the caller adds
 * with one matmul.
 */
__attribute__((export_name("gru_backward_step"))) void gru_backward_step(const f32 *g, i32 gStride, const f32 *dNext, const f32 *rs, const f32 *zs,
                                                                   const f32 *ns, const f32 *hns, const f32 *prev, const f32 *mask, i32 b,
                                                                   i32 h, f32 *dx, i32 dxStride, f32 *dhp, f32 *dPrev) {
  const v128_t one = wasm_f32x4_splat(1.0f);
  for (i32 i = 0; i < b; i++) {
    const f32 *gi = g + (long)i * gStride;
    f32 *dxi = dx + (long)i * dxStride;
    f32 *dhpi = dhp + (long)i * 3 * h;
    f32 mt = mask[i];
    v128_t vm = wasm_f32x4_splat(mt);
    v128_t vkeep = wasm_f32x4_splat(1.0f - mt);
    i32 j = 0;
    for (; j + 4 <= h; j += 4) {
      long k = (long)i * h + j;
      v128_t dh = wasm_f32x4_add(LOAD(gi + j), LOAD(dNext + k));
      v128_t r = LOAD(rs + k), z = LOAD(zs + k), n = LOAD(ns + k), hPrev = LOAD(prev + k);
      v128_t dCand = wasm_f32x4_mul(vm, dh);
      v128_t dn = wasm_f32x4_mul(dCand, wasm_f32x4_sub(one, z));
      v128_t dz = wasm_f32x4_mul(dCand, wasm_f32x4_sub(hPrev, n));
      v128_t dPreN = wasm_f32x4_mul(dn, wasm_f32x4_sub(one, wasm_f32x4_mul(n, n)));
      v128_t dr = wasm_f32x4_mul(dPreN, LOAD(hns + k));
      v128_t dPreZ = wasm_f32x4_mul(wasm_f32x4_mul(dz, z), wasm_f32x4_sub(one, z));
      v128_t dPreR = wasm_f32x4_mul(wasm_f32x4_mul(dr, r), wasm_f32x4_sub(one, r));
      STORE(dxi + j, dPreR);
      STORE(dxi + h + j, dPreZ);
      STORE(dxi + 2 * h + j, dPreN);
      STORE(dhpi + j, dPreR);
      STORE(dhpi + h + j, dPreZ);
      STORE(dhpi + 2 * h + j, wasm_f32x4_mul(dPreN, r));
      STORE(dPrev + k, wasm_f32x4_add(wasm_f32x4_mul(vkeep, dh), wasm_f32x4_mul(dCand, z)));
    }
    for (; j < h; j++) {
      long k = (long)i * h + j;
      f32 dh = gi[j] + dNext[k];
      f32 r = rs[k], z = zs[k], n = ns[k], hPrev = prev[k];
      f32 dCand = mt * dh;
      f32 dn = dCand * (1 - z);
      f32 dz = dCand * (hPrev - n);
      f32 dPreN = dn * (1 - n * n);
      f32 dr = dPreN * hns[k];
      f32 dPreZ = dz * z * (1 - z);
      f32 dPreR = dr * r * (1 - r);
      dxi[j] = dPreR;
      dxi[h + j] = dPreZ;
      dxi[2 * h + j] = dPreN;
      dhpi[j] = dPreR;
      dhpi[h + j] = dPreZ;
      dhpi[2 * h + j] = dPreN * r;
      dPrev[k] = (1 - mt) * dh + dCand * z;
    }
  }
}

/*
 * The softmax gradient in both layouts: g[r, c] = e[r, c] * scale[r] ([rows, cols]) and
 * gT[c, r] = the same ([cols, rows]), so both matmuls of the backward pass (G·E and Gᵀ·U) run
 * without a transpose. Rows four at a time, transposed through registers.
 */
__attribute__((export_name("scale_rows_both"))) void scale_rows_both(const f32 *e, i32 rows, i32 cols, const f32 *scale, f32 *g, f32 *gT) {
  i32 r = 0;
  for (; r + 4 <= rows; r += 4) {
    const f32 *e0 = e + (long)r * cols, *e1 = e0 + cols, *e2 = e1 + cols, *e3 = e2 + cols;
    f32 *g0 = g + (long)r * cols, *g1 = g0 + cols, *g2 = g1 + cols, *g3 = g2 + cols;
    v128_t s0 = wasm_f32x4_splat(scale[r]), s1 = wasm_f32x4_splat(scale[r + 1]);
    v128_t s2 = wasm_f32x4_splat(scale[r + 2]), s3 = wasm_f32x4_splat(scale[r + 3]);
    i32 c = 0;
    for (; c + 4 <= cols; c += 4) {
      v128_t a0 = wasm_f32x4_mul(LOAD(e0 + c), s0), a1 = wasm_f32x4_mul(LOAD(e1 + c), s1);
      v128_t a2 = wasm_f32x4_mul(LOAD(e2 + c), s2), a3 = wasm_f32x4_mul(LOAD(e3 + c), s3);
      STORE(g0 + c, a0);
      STORE(g1 + c, a1);
      STORE(g2 + c, a2);
      STORE(g3 + c, a3);
      /* 4x4 transpose: t0 = (a0[0], a1[0], a2[0], a3[0]), ... */
      v128_t u0 = wasm_i32x4_shuffle(a0, a1, 0, 4, 1, 5), u1 = wasm_i32x4_shuffle(a0, a1, 2, 6, 3, 7);
      v128_t u2 = wasm_i32x4_shuffle(a2, a3, 0, 4, 1, 5), u3 = wasm_i32x4_shuffle(a2, a3, 2, 6, 3, 7);
      STORE(gT + (long)c * rows + r, wasm_i32x4_shuffle(u0, u2, 0, 1, 4, 5));
      STORE(gT + (long)(c + 1) * rows + r, wasm_i32x4_shuffle(u0, u2, 2, 3, 6, 7));
      STORE(gT + (long)(c + 2) * rows + r, wasm_i32x4_shuffle(u1, u3, 0, 1, 4, 5));
      STORE(gT + (long)(c + 3) * rows + r, wasm_i32x4_shuffle(u1, u3, 2, 3, 6, 7));
    }
    for (; c < cols; c++) {
      for (i32 k = 0; k < 4; k++) {
        f32 v = e[(long)(r + k) * cols + c] * scale[r + k];
        g[(long)(r + k) * cols + c] = v;
        gT[(long)c * rows + r + k] = v;
      }
    }
  }
  for (; r < rows; r++) {
    for (i32 c = 0; c < cols; c++) {
      f32 v = e[(long)r * cols + c] * scale[r];
      g[(long)r * cols + c] = v;
      gT[(long)c * rows + r] = v;
    }
  }
}

/*
 * Batched matmul of small matrices: out[i] = op(a[i]) op(b[i]) for i < batch, op = transpose
 * when ta / tb is set; op(a[i]) is [m, k], op(b[i]) is [k, n], all row-major and contiguous.
 * (TF.js's wasm backend runs batch > 1 through a generic scalar loop; the routing of MIND and
 * ComiRec-DR is made of these, with m, k, n of 4 to 64.)
 */
__attribute__((export_name("batch_matmul"))) void batch_matmul(const f32 *a, const f32 *b, f32 *out, i32 batch, i32 m, i32 k, i32 n, i32 ta, i32 tb) {
  for (i32 bi = 0; bi < batch; bi++) {
    const f32 *A = a + (long)bi * m * k;
    const f32 *B = b + (long)bi * k * n;
    f32 *C = out + (long)bi * m * n;
    if (!tb) {
      for (i32 i = 0; i < m; i++) {
        f32 *c = C + (long)i * n;
        i32 j = 0;
        for (; j + 4 <= n; j += 4) STORE(c + j, wasm_f32x4_splat(0.0f));
        for (; j < n; j++) c[j] = 0;
        for (i32 q = 0; q < k; q++) {
          f32 av = ta ? A[(long)q * m + i] : A[(long)i * k + q];
          const f32 *brow = B + (long)q * n;
          v128_t va = wasm_f32x4_splat(av);
          j = 0;
          for (; j + 4 <= n; j += 4) STORE(c + j, wasm_f32x4_add(LOAD(c + j), wasm_f32x4_mul(va, LOAD(brow + j))));
          for (; j < n; j++) c[j] += av * brow[j];
        }
      }
    } else {
      for (i32 i = 0; i < m; i++) {
        for (i32 j = 0; j < n; j++) {
          const f32 *bcol = B + (long)j * k;
          f32 sum = 0;
          if (!ta) {
            const f32 *arow = A + (long)i * k;
            v128_t acc = wasm_f32x4_splat(0.0f);
            i32 q = 0;
            for (; q + 4 <= k; q += 4) acc = wasm_f32x4_add(acc, wasm_f32x4_mul(LOAD(arow + q), LOAD(bcol + q)));
            sum = wasm_f32x4_extract_lane(acc, 0) + wasm_f32x4_extract_lane(acc, 1) + wasm_f32x4_extract_lane(acc, 2) + wasm_f32x4_extract_lane(acc, 3);
            for (; q < k; q++) sum += arow[q] * bcol[q];
          } else {
            for (i32 q = 0; q < k; q++) sum += A[(long)q * m + i] * bcol[q];
          }
          C[(long)i * n + j] = sum;
        }
      }
    }
  }
}

/* a[i] += b[i] */
__attribute__((export_name("add_inplace"))) void add_inplace(f32 *a, const f32 *b, i32 n) {
  i32 i = 0;
  for (; i + 4 <= n; i += 4) STORE(a + i, wasm_f32x4_add(LOAD(a + i), LOAD(b + i)));
  for (; i < n; i++) a[i] += b[i];
}

/* out[j] = sum over rows of x[row, j] (x [rows, cols]); out is overwritten. */
__attribute__((export_name("column_sums"))) void column_sums(const f32 *x, i32 rows, i32 cols, f32 *out) {
  for (i32 j = 0; j < cols; j++) out[j] = 0;
  for (i32 r = 0; r < rows; r++) {
    const f32 *row = x + (long)r * cols;
    i32 j = 0;
    for (; j + 4 <= cols; j += 4) STORE(out + j, wasm_f32x4_add(LOAD(out + j), LOAD(row + j)));
    for (; j < cols; j++) out[j] += row[j];
  }
}
