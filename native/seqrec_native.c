/*
 * seqrec's native accelerator: OpenBLAS sgemm and seqrec's own kernels compiled for the host
 * CPU (AVX2/FMA where `seqrec setup native` finds them), threaded with OpenMP.
 *
 * Built by `seqrec setup native` (src/cli/setup/native.ts) with node-gyp against Debian's
 * libopenblas-dev; loaded lazily by src/backend/native.ts, the only module that calls it.
 * Plain N-API C: no C++ runtime and no build-time npm packages.
 *
 * Two calling conventions, both synchronous:
 *  - sgemm / sgemm_batched / adam / adam_rows take typed arrays (views of any memory,
 *    including the TF.js wasm backend's heap: no copy);
 *  - the element-wise kernels mirror src/backend/simd/kernels.c one for one: the first
 *    argument is the kernels' memory (an ArrayBuffer), every pointer a byte offset into it,
 *    so src/backend/simd.ts can hand the same calls to wasm, native or JavaScript.
 * Every length is checked against the buffer it indexes; a bad call throws a JavaScript
 * error instead of touching memory out of bounds.
 */
#include <cblas.h>
#include <math.h>
#include "napi_util.h"
#include <omp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef __AVX2__
#include <immintrin.h>
#endif


/* ------------------------------------------------------------------ exp, sigmoid, tanh */
/* The same Cephes-style exp as kernels.c (|rel err| < 3e-7 over [-87, 88]; 0 below, +inf above),
 * so the native and wasm paths agree to float rounding. */
static inline f32 s_exp(f32 x) {
  if (x < -87.3365447504f) return 0.0f;
  if (x > 88.3762626647949f) return INFINITY;
  f32 fx = nearbyintf(x * 1.44269504088896341f);
  f32 r = x - fx * 0.693359375f + fx * 2.12194440e-4f;
  f32 p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  int32_t bits = ((int32_t)fx + 127) << 23;
  f32 pow2;
  memcpy(&pow2, &bits, 4);
  return p * pow2;
}
static inline f32 s_sigmoid(f32 x) { return 1.0f / (1.0f + s_exp(-x)); }
static inline f32 s_tanh(f32 x) {
  f32 e = s_exp(-2.0f * fabsf(x));
  f32 t = (1.0f - e) / (1.0f + e);
  return x < 0 ? -t : t;
}

#ifdef __AVX2__
static inline __m256 v_exp(__m256 x) {
  const __m256 hi = _mm256_set1_ps(88.3762626647949f), lo = _mm256_set1_ps(-87.3365447504f);
  __m256 under = _mm256_cmp_ps(x, lo, _CMP_LT_OQ);
  __m256 over = _mm256_cmp_ps(x, hi, _CMP_GT_OQ);
  x = _mm256_max_ps(_mm256_min_ps(x, hi), lo);
  __m256 fx = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256 r = _mm256_sub_ps(x, _mm256_mul_ps(fx, _mm256_set1_ps(0.693359375f)));
  r = _mm256_add_ps(r, _mm256_mul_ps(fx, _mm256_set1_ps(2.12194440e-4f)));
  __m256 p = _mm256_set1_ps(1.9875691500e-4f);
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
  __m256 r2 = _mm256_mul_ps(r, r);
  p = _mm256_add_ps(_mm256_fmadd_ps(p, r2, r), _mm256_set1_ps(1.0f));
  __m256i n = _mm256_cvtps_epi32(fx);
  __m256 pow2 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n, _mm256_set1_epi32(127)), 23));
  __m256 out = _mm256_mul_ps(p, pow2);
  out = _mm256_blendv_ps(out, _mm256_set1_ps(INFINITY), over);
  return _mm256_andnot_ps(under, out);
}
#endif

/* ------------------------------------------------------------------ element-wise kernels */
static void exp_row(f32 *row, int64_t cols, f32 *maxOut, f32 *sumOut) {
  f32 mx = -INFINITY;
  for (int64_t c = 0; c < cols; c++) mx = row[c] > mx ? row[c] : mx;
  f32 s = 0;
  int64_t c = 0;
#ifdef __AVX2__
  __m256 vm = _mm256_set1_ps(mx), acc = _mm256_setzero_ps();
  for (; c + 8 <= cols; c += 8) {
    __m256 e = v_exp(_mm256_sub_ps(_mm256_loadu_ps(row + c), vm));
    _mm256_storeu_ps(row + c, e);
    acc = _mm256_add_ps(acc, e);
  }
  f32 lanes[8];
  _mm256_storeu_ps(lanes, acc);
  for (int k = 0; k < 8; k++) s += lanes[k];
#endif
  for (; c < cols; c++) {
    f32 e = s_exp(row[c] - mx);
    row[c] = e;
    s += e;
  }
  *maxOut = mx;
  *sumOut = s;
}

#ifdef __AVX2__
/* tanh(a) = sign(a) (1 − e) / (1 + e), e = exp(−2|a|): the scalar s_tanh's formula, 8 lanes. */
static inline __m256 v_tanh(__m256 a) {
  const __m256 one = _mm256_set1_ps(1.0f), sign = _mm256_set1_ps(-0.0f);
  __m256 e = v_exp(_mm256_mul_ps(_mm256_set1_ps(-2.0f), _mm256_andnot_ps(sign, a)));
  __m256 t = _mm256_div_ps(_mm256_sub_ps(one, e), _mm256_add_ps(one, e));
  return _mm256_or_ps(t, _mm256_and_ps(a, sign));
}
#endif

/* tanh_typed(x, out): out = tanh(x) over typed arrays of one length. */
static napi_value tanh_typed(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (!get_args(env, info, 2, argv)) FAIL("tanh_typed: expected 2 arguments");
  F32 x, out;
  if (!f32_arg(env, argv[0], &x, "x") || !f32_arg(env, argv[1], &out, "out")) return NULL;
  NEED(out, x.n, "out");
  const int64_t n = (int64_t)x.n;
#pragma omp parallel for if (n > 4 * PAR_MIN) schedule(static)
  for (int64_t c0 = 0; c0 < n; c0 += 4096) {
    const int64_t c1 = c0 + 4096 < n ? c0 + 4096 : n;
    int64_t c = c0;
#ifdef __AVX2__
    for (; c + 8 <= c1; c += 8) _mm256_storeu_ps(out.p + c, v_tanh(_mm256_loadu_ps(x.p + c)));
#endif
    for (; c < c1; c++) out.p[c] = s_tanh(x.p[c]);
  }
  return NULL;
}

static napi_value exp_inplace(napi_env env, napi_callback_info info) {
  OFFSET_ARGS(2);
  PTR(x, m.i[0], m.i[1]);
  int64_t n = m.i[1];
#pragma omp parallel for if (n > 4 * PAR_MIN) schedule(static)
  for (int64_t i = 0; i < n; i++) x[i] = s_exp(x[i]);
  return NULL;
}

static napi_value exp_shift_rows(napi_env env, napi_callback_info info) {
  OFFSET_ARGS(5);
  int64_t rows = m.i[1], cols = m.i[2];
  PTR(x, m.i[0], rows * cols);
  PTR(maxes, m.i[3], rows);
  PTR(sums, m.i[4], rows);
#pragma omp parallel for if (rows * cols > PAR_MIN) schedule(static)
  for (int64_t r = 0; r < rows; r++) exp_row(x + r * cols, cols, maxes + r, sums + r);
  return NULL;
}

static napi_value scale_rows(napi_env env, napi_callback_info info) {
  OFFSET_ARGS(4);
  int64_t rows = m.i[1], cols = m.i[2];
  PTR(x, m.i[0], rows * cols);
  PTR(scale, m.i[3], rows);
#pragma omp parallel for if (rows * cols > PAR_MIN) schedule(static)
  for (int64_t r = 0; r < rows; r++) {
    f32 s = scale[r], *row = x + r * cols;
    for (int64_t c = 0; c < cols; c++) row[c] *= s;
  }
  return NULL;
}

static napi_value scale_rows_both(napi_env env, napi_callback_info info) {
  OFFSET_ARGS(6);
  int64_t rows = m.i[1], cols = m.i[2];
  PTR(e, m.i[0], rows * cols);
  PTR(scale, m.i[3], rows);
  PTR(g, m.i[4], rows * cols);
  PTR(gT, m.i[5], rows * cols);
  /* Column blocks of 64 keep the transposed writes within a few cache lines per row. */
#pragma omp parallel for if (rows * cols > PAR_MIN) schedule(static)
  for (int64_t c0 = 0; c0 < cols; c0 += 64) {
    int64_t c1 = c0 + 64 < cols ? c0 + 64 : cols;
    for (int64_t r = 0; r < rows; r++) {
      f32 s = scale[r];
      for (int64_t c = c0; c < c1; c++) {
        f32 v = e[r * cols + c] * s;
        g[r * cols + c] = v;
        gT[c * rows + r] = v;
      }
    }
  }
  return NULL;
}

static napi_value gru_forward_step(napi_env env, napi_callback_info info) {
  OFFSET_ARGS(15);
  int64_t xStride = m.i[1], b = m.i[6], h = m.i[7], outStride = m.i[14];
  PTR(x, m.i[0], (b - 1) * xStride + 3 * h);
  PTR(hp, m.i[2], b * 3 * h);
  PTR(bias, m.i[3], 3 * h);
  PTR(prev, m.i[4], b * h);
  PTR(mask, m.i[5], b);
  PTR(next, m.i[8], b * h);
  PTR(rs, m.i[9], b * h);
  PTR(zs, m.i[10], b * h);
  PTR(ns, m.i[11], b * h);
  PTR(hns, m.i[12], b * h);
  PTR(out, m.i[13], (b - 1) * outStride + h);
#pragma omp parallel for if (b * h > PAR_MIN) schedule(static)
  for (int64_t i = 0; i < b; i++) {
    const f32 *xi = x + i * xStride, *hpi = hp + i * 3 * h, *pi = prev + i * h;
    f32 mt = mask[i];
    int64_t j = 0;
#ifdef __AVX2__
    /* Eight units at a time with the vector exp: the scalar loop's libm-free exp does not
       vectorise, and its 3 exps per unit were most of a GRU4Rec forward pass. */
    const __m256 one = _mm256_set1_ps(1.0f), vm = _mm256_set1_ps(mt), sign = _mm256_set1_ps(-0.0f);
    for (; j + 8 <= h; j += 8) {
#define LD(p) _mm256_loadu_ps(p)
      __m256 hn = _mm256_add_ps(LD(hpi + 2 * h + j), LD(bias + 2 * h + j));
      __m256 ar = _mm256_add_ps(_mm256_add_ps(LD(xi + j), LD(hpi + j)), LD(bias + j));
      __m256 az = _mm256_add_ps(_mm256_add_ps(LD(xi + h + j), LD(hpi + h + j)), LD(bias + h + j));
      __m256 r = _mm256_div_ps(one, _mm256_add_ps(one, v_exp(_mm256_xor_ps(ar, sign))));
      __m256 z = _mm256_div_ps(one, _mm256_add_ps(one, v_exp(_mm256_xor_ps(az, sign))));
      __m256 an = _mm256_add_ps(LD(xi + 2 * h + j), _mm256_mul_ps(r, hn));
      __m256 n = v_tanh(an);
      __m256 hPrev = LD(pi + j);
      __m256 hNew = _mm256_add_ps(hPrev, _mm256_mul_ps(vm, _mm256_sub_ps(_mm256_add_ps(n, _mm256_mul_ps(z, _mm256_sub_ps(hPrev, n))), hPrev)));
#undef LD
      int64_t k = i * h + j;
      _mm256_storeu_ps(next + k, hNew);
      _mm256_storeu_ps(rs + k, r);
      _mm256_storeu_ps(zs + k, z);
      _mm256_storeu_ps(ns + k, n);
      _mm256_storeu_ps(hns + k, hn);
      _mm256_storeu_ps(out + i * outStride + j, hNew);
    }
#endif
    for (; j < h; j++) {
      f32 hn = hpi[2 * h + j] + bias[2 * h + j];
      f32 r = s_sigmoid(xi[j] + hpi[j] + bias[j]);
      f32 z = s_sigmoid(xi[h + j] + hpi[h + j] + bias[h + j]);
      f32 n = s_tanh(xi[2 * h + j] + r * hn);
      f32 hPrev = pi[j];
      f32 hNew = hPrev + mt * (n + z * (hPrev - n) - hPrev);
      int64_t k = i * h + j;
      next[k] = hNew;
      rs[k] = r;
      zs[k] = z;
      ns[k] = n;
      hns[k] = hn;
      out[i * outStride + j] = hNew;
    }
  }
  return NULL;
}

static napi_value gru_backward_step(napi_env env, napi_callback_info info) {
  OFFSET_ARGS(15);
  int64_t gStride = m.i[1], b = m.i[9], h = m.i[10], dxStride = m.i[12];
  PTR(g, m.i[0], (b - 1) * gStride + h);
  PTR(dNext, m.i[2], b * h);
  PTR(rs, m.i[3], b * h);
  PTR(zs, m.i[4], b * h);
  PTR(ns, m.i[5], b * h);
  PTR(hns, m.i[6], b * h);
  PTR(prev, m.i[7], b * h);
  PTR(mask, m.i[8], b);
  PTR(dx, m.i[11], (b - 1) * dxStride + 3 * h);
  PTR(dhp, m.i[13], b * 3 * h);
  PTR(dPrev, m.i[14], b * h);
#pragma omp parallel for if (b * h > PAR_MIN) schedule(static)
  for (int64_t i = 0; i < b; i++) {
    f32 mt = mask[i];
    for (int64_t j = 0; j < h; j++) {
      int64_t k = i * h + j;
      f32 dh = g[i * gStride + j] + dNext[k];
      f32 r = rs[k], z = zs[k], n = ns[k];
      f32 dCand = mt * dh;
      f32 dPreN = dCand * (1 - z) * (1 - n * n);
      f32 dPreZ = dCand * (prev[k] - n) * z * (1 - z);
      f32 dPreR = dPreN * hns[k] * r * (1 - r);
      f32 *dxi = dx + i * dxStride, *dhi = dhp + i * 3 * h;
      dxi[j] = dPreR;
      dxi[h + j] = dPreZ;
      dxi[2 * h + j] = dPreN;
      dhi[j] = dPreR;
      dhi[h + j] = dPreZ;
      dhi[2 * h + j] = dPreN * r;
      dPrev[k] = (1 - mt) * dh + dCand * z;
    }
  }
  return NULL;
}

/* C[i] = op(A[i]) op(B[i]) for small matrices: one thread a batch slice, no BLAS call overhead. */
#ifdef __AVX2__
/* a · b over k floats: 4 x 8 lanes, then a fixed-order reduction (same bits for a row wherever it is). */
static inline f32 dot_fixed(const f32 *a, const f32 *b, int64_t k) {
  __m256 s0 = _mm256_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
  int64_t q = 0;
  for (; q + 32 <= k; q += 32) {
    s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + q), _mm256_loadu_ps(b + q), s0);
    s1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + q + 8), _mm256_loadu_ps(b + q + 8), s1);
    s2 = _mm256_fmadd_ps(_mm256_loadu_ps(a + q + 16), _mm256_loadu_ps(b + q + 16), s2);
    s3 = _mm256_fmadd_ps(_mm256_loadu_ps(a + q + 24), _mm256_loadu_ps(b + q + 24), s3);
  }
  for (; q + 8 <= k; q += 8) s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + q), _mm256_loadu_ps(b + q), s0);
  f32 lanes[8];
  _mm256_storeu_ps(lanes, _mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3)));
  f32 acc = ((lanes[0] + lanes[1]) + (lanes[2] + lanes[3])) + ((lanes[4] + lanes[5]) + (lanes[6] + lanes[7]));
  for (; q < k; q++) acc = fmaf(a[q], b[q], acc);
  return acc;
}
#endif

static inline f32 dot_plain(const f32 *a, const f32 *b, int64_t k) {
#ifdef __AVX2__
  return dot_fixed(a, b, k);
#else
  f32 s = 0;
  for (int64_t q = 0; q < k; q++) s += a[q] * b[q];
  return s;
#endif
}

static void transpose_into(const f32 *x, int64_t rows, int64_t cols, f32 *out) {
  for (int64_t r = 0; r < rows; r++)
    for (int64_t c = 0; c < cols; c++) out[c * rows + r] = x[r * cols + c];
}

/*
 * One small product C [m, n] = op(A) op(B), with `buf` room for m*k + k*n floats. Transposed
 * operands are copied untransposed first; then rows of C are accumulated along B's rows when C
 * is at least 8 wide (the inner loop vectorises), else each entry is a dot product over k
 * (the shapes of routing agreements and matrix-vector products, where a loop of n = 1 was 4x
 * slower).
 */
static void small_matmul(const f32 *A, const f32 *B, f32 *C, int64_t m, int64_t k, int64_t n, int ta, int tb, f32 *buf) {
  const f32 *a = A;
  if (ta) {
    transpose_into(A, k, m, buf);
    a = buf;
  }
  f32 *bbuf = buf + m * k;
  if (n >= 8) {
    const f32 *b = B;
    if (tb) {
      transpose_into(B, n, k, bbuf);
      b = bbuf;
    }
    for (int64_t i = 0; i < m; i++) {
      f32 *c = C + i * n;
      for (int64_t j = 0; j < n; j++) c[j] = 0;
      for (int64_t q = 0; q < k; q++) {
        const f32 av = a[i * k + q], *brow = b + q * n;
        for (int64_t j = 0; j < n; j++) c[j] += av * brow[j];
      }
    }
    return;
  }
  const f32 *bt = B; /* [n, k] */
  if (!tb) {
    transpose_into(B, k, n, bbuf);
    bt = bbuf;
  }
  for (int64_t i = 0; i < m; i++)
    for (int64_t j = 0; j < n; j++) C[i * n + j] = dot_plain(a + i * k, bt + j * k, k);
}

/* `batch` small products, parallel over the batch, each thread with its own scratch. */
static void small_matmuls(const f32 *A, const f32 *B, f32 *C, int64_t batch, int64_t m, int64_t k, int64_t n, int ta, int tb) {
#pragma omp parallel if (batch * m * n * k > 4 * PAR_MIN)
  {
    f32 *buf = malloc((size_t)(m * k + k * n) * sizeof(f32));
#pragma omp for schedule(static)
    for (int64_t bi = 0; bi < batch; bi++) small_matmul(A + bi * m * k, B + bi * k * n, C + bi * m * n, m, k, n, ta, tb, buf);
    free(buf);
  }
}

static napi_value batch_matmul(napi_env env, napi_callback_info info) {
  OFFSET_ARGS(9);
  int64_t batch = m.i[3], mm = m.i[4], k = m.i[5], n = m.i[6];
  int ta = (int)m.i[7], tb = (int)m.i[8];
  PTR(a, m.i[0], batch * mm * k);
  PTR(b, m.i[1], batch * k * n);
  PTR(out, m.i[2], batch * mm * n);
  small_matmuls(a, b, out, batch, mm, k, n, ta, tb);
  return NULL;
}

static napi_value add_inplace(napi_env env, napi_callback_info info) {
  OFFSET_ARGS(3);
  int64_t n = m.i[2];
  PTR(a, m.i[0], n);
  PTR(b, m.i[1], n);
#pragma omp parallel for if (n > 4 * PAR_MIN) schedule(static)
  for (int64_t i = 0; i < n; i++) a[i] += b[i];
  return NULL;
}

static void column_sums_raw(const f32 *x, int64_t rows, int64_t cols, f32 *out) {
  /* Column blocks per thread: each thread owns its slice of `out`, rows read in order. */
#pragma omp parallel for if (rows * cols > PAR_MIN) schedule(static)
  for (int64_t c0 = 0; c0 < cols; c0 += 256) {
    int64_t c1 = c0 + 256 < cols ? c0 + 256 : cols;
    for (int64_t j = c0; j < c1; j++) out[j] = 0;
    for (int64_t r = 0; r < rows; r++) {
      const f32 *row = x + r * cols;
      for (int64_t j = c0; j < c1; j++) out[j] += row[j];
    }
  }
}

static napi_value column_sums(napi_env env, napi_callback_info info) {
  OFFSET_ARGS(4);
  int64_t rows = m.i[1], cols = m.i[2];
  PTR(x, m.i[0], rows * cols);
  PTR(out, m.i[3], cols);
  column_sums_raw(x, rows, cols, out);
  return NULL;
}

/*
 * C = A·B (row-major, no transposes) with one accumulation order per element: c[i][j] is the
 * fused multiply-add chain over q = 0..k-1, whatever m is and wherever row i sits in a tile.
 * OpenBLAS's result for a row changes with m (its blocking and edge kernels differ), so a user
 * embedded alone and in a batch would get scores a few ulps apart and near-ties could flip;
 * the forward products (towers, recurrences) go here and serve the same answers either way.
 */
/* Rows i0..i0+R-1 (R <= 4), columns j..j+15 of C: 2R independent FMA chains, each over q in order. */
#ifdef __AVX2__
static inline void rowwise_block16(const f32 *A, const f32 *B, f32 *C, int64_t i0, int R, int64_t j, int64_t n, int64_t k) {
  __m256 c[4][2];
  for (int r = 0; r < 4; r++) c[r][0] = c[r][1] = _mm256_setzero_ps();
  for (int64_t q = 0; q < k; q++) {
    __m256 b0 = _mm256_loadu_ps(B + q * n + j), b1 = _mm256_loadu_ps(B + q * n + j + 8);
    for (int r = 0; r < R; r++) {
      __m256 av = _mm256_set1_ps(A[(i0 + r) * k + q]);
      c[r][0] = _mm256_fmadd_ps(av, b0, c[r][0]);
      c[r][1] = _mm256_fmadd_ps(av, b1, c[r][1]);
    }
  }
  for (int r = 0; r < R; r++) {
    _mm256_storeu_ps(C + (i0 + r) * n + j, c[r][0]);
    _mm256_storeu_ps(C + (i0 + r) * n + j + 8, c[r][1]);
  }
}
#endif


static void rowwise_gemm(const f32 *A, const f32 *B, f32 *C, int64_t m, int64_t n, int64_t k) {
#ifdef __AVX2__
  /* Fewer than 8 columns left over (e.g. [5120, 256] x [256, 4], attention logits): dot products
     over k against those columns copied contiguous, instead of one scalar FMA chain each. */
  const int64_t tail0 = n - n % 8, tail = n % 8;
  f32 *Bt = NULL;
  if (tail > 0 && k >= 16 && (Bt = malloc((size_t)(tail * k) * sizeof(f32))) != NULL)
    for (int64_t c = 0; c < tail; c++)
      for (int64_t q = 0; q < k; q++) Bt[c * k + q] = B[q * n + tail0 + c];
#endif
  /* Blocks of 4 rows keep 8 FMA chains in flight (one chain per row stalls on FMA latency); a
     block's shape never changes an element's arithmetic, so the result stays batch-invariant. */
#pragma omp parallel for if (m * n * k > 16 * PAR_MIN) schedule(static)
  for (int64_t i0 = 0; i0 < m; i0 += 4) {
    const int R = m - i0 < 4 ? (int)(m - i0) : 4;
    int64_t j = 0;
#ifdef __AVX2__
    for (; j + 16 <= n; j += 16) rowwise_block16(A, B, C, i0, R, j, n, k);
    for (; j + 8 <= n; j += 8) {
      for (int r = 0; r < R; r++) {
        const f32 *a = A + (i0 + r) * k;
        __m256 c0 = _mm256_setzero_ps();
        for (int64_t q = 0; q < k; q++) c0 = _mm256_fmadd_ps(_mm256_set1_ps(a[q]), _mm256_loadu_ps(B + q * n + j), c0);
        _mm256_storeu_ps(C + (i0 + r) * n + j, c0);
      }
    }
#endif
    for (int r = 0; r < R; r++) {
      const f32 *a = A + (i0 + r) * k;
#ifdef __AVX2__
      if (Bt) {
        for (int64_t c = 0; c < tail; c++) C[(i0 + r) * n + tail0 + c] = dot_fixed(a, Bt + c * k, k);
        continue;
      }
#endif
      for (int64_t jj = j; jj < n; jj++) {
        f32 acc = 0;
        for (int64_t q = 0; q < k; q++) acc = fmaf(a[q], B[q * n + jj], acc);
        C[(i0 + r) * n + jj] = acc;
      }
    }
  }
#ifdef __AVX2__
  free(Bt);
#endif
}

/*
 * C = alpha op(A) op(B) + beta C, row-major with cblas's leading dimensions, split over the
 * OpenMP threads along the longer side of C, each part one single-threaded OpenBLAS call.
 * One thread pool (libgomp's) then runs everything: with OpenBLAS's own pool next to libgomp's,
 * each hand-over of the two cores between them cost ~0.85 ms here, and a step makes hundreds.
 */
#define SGEMM_PAR_MIN (1L << 20)
void seqrec_sgemm(int ta, int tb, int64_t m, int64_t n, int64_t k, f32 alpha, const f32 *A, int64_t lda, const f32 *B, int64_t ldb, f32 beta, f32 *C,
                  int64_t ldc) {
  const CBLAS_TRANSPOSE opA = ta ? CblasTrans : CblasNoTrans, opB = tb ? CblasTrans : CblasNoTrans;
  const int threads = omp_get_max_threads();
  if (threads <= 1 || m * n * k < SGEMM_PAR_MIN || omp_in_parallel()) {
    cblas_sgemm(CblasRowMajor, opA, opB, (int)m, (int)n, (int)k, alpha, A, (int)lda, B, (int)ldb, beta, C, (int)ldc);
    return;
  }
  const int splitN = n >= m;
  const int64_t len = splitN ? n : m;
  const int64_t chunk = ((len + threads - 1) / threads + 15) / 16 * 16;
  const int parts = (int)((len + chunk - 1) / chunk);
#pragma omp parallel for num_threads(parts) schedule(static, 1)
  for (int p = 0; p < parts; p++) {
    const int64_t s = p * chunk, e = s + chunk < len ? s + chunk : len;
    if (splitN)
      cblas_sgemm(CblasRowMajor, opA, opB, (int)m, (int)(e - s), (int)k, alpha, A, (int)lda, tb ? B + s * ldb : B + s, (int)ldb, beta, C + s, (int)ldc);
    else
      cblas_sgemm(CblasRowMajor, opA, opB, (int)(e - s), (int)n, (int)k, alpha, ta ? A + s : A + s * lda, (int)lda, B, (int)ldb, beta, C + s * ldc, (int)ldc);
  }
}

/* rowwise_gemm(m, n, k, A, B, C): the batch-invariant C = A·B above, on typed arrays. */
static napi_value rowwise_gemm_typed(napi_env env, napi_callback_info info) {
  napi_value argv[6];
  if (!get_args(env, info, 6, argv)) FAIL("expected 6 arguments");
  int64_t mm, n, k;
  if (!get_i64(env, argv[0], &mm) || !get_i64(env, argv[1], &n) || !get_i64(env, argv[2], &k) || mm < 0 || n < 0 || k < 0) FAIL("m, n, k must be counts");
  F32 A, B, C;
  if (!f32_arg(env, argv[3], &A, "A") || !f32_arg(env, argv[4], &B, "B") || !f32_arg(env, argv[5], &C, "C")) return NULL;
  NEED(A, mm * k, "A");
  NEED(B, k * n, "B");
  NEED(C, mm * n, "C");
  rowwise_gemm(A.p, B.p, C.p, mm, n, k);
  return NULL;
}

/*
 * sgemm(ta, tb, m, n, k, alpha, A, B, beta, C): row-major C = alpha op(A) op(B) + beta C, with
 * op(A) [m, k] and op(B) [k, n] contiguous (A is [k, m] when ta, B is [n, k] when tb).
 * batch > 1 (sgemm_batched): `batch` such products over consecutive matrices; small ones run
 * on seqrec's loop, parallel over the batch, large ones through OpenBLAS one at a time.
 */
static napi_value gemm(napi_env env, napi_callback_info info, int batched) {
  napi_value argv[11];
  size_t want = batched ? 11 : 10;
  if (!get_args(env, info, want, argv)) FAIL("expected %zu arguments", want);
  size_t o = batched ? 1 : 0;
  int64_t batch = 1, ta, tb, mm, n, k;
  double alpha, beta;
  if (batched && !get_i64(env, argv[0], &batch)) FAIL("batch must be a number");
  if (!get_i64(env, argv[o], &ta) || !get_i64(env, argv[o + 1], &tb) || !get_i64(env, argv[o + 2], &mm) || !get_i64(env, argv[o + 3], &n) ||
      !get_i64(env, argv[o + 4], &k) || !get_f64(env, argv[o + 5], &alpha) || !get_f64(env, argv[o + 8], &beta))
    FAIL("sgemm: ta, tb, m, n, k, alpha, beta must be numbers");
  if (batch < 0 || mm < 0 || n < 0 || k < 0) FAIL("sgemm: negative size");
  F32 A, B, C;
  if (!f32_arg(env, argv[o + 6], &A, "A") || !f32_arg(env, argv[o + 7], &B, "B") || !f32_arg(env, argv[o + 9], &C, "C")) return NULL;
  NEED(A, batch * mm * k, "A");
  NEED(B, batch * k * n, "B");
  NEED(C, batch * mm * n, "C");
  if (mm == 0 || n == 0) return NULL;
  if (k == 0) {
    for (int64_t i = 0; i < batch * mm * n; i++) C.p[i] = beta == 0.0 ? 0.0f : (f32)beta * C.p[i];
    return NULL;
  }
  int64_t lda = ta ? mm : k, ldb = tb ? k : n;
  if (batch > 1 && mm * n * k <= 64 * 64 * 64 && alpha == 1.0 && beta == 0.0) {
    small_matmuls(A.p, B.p, C.p, batch, mm, k, n, (int)ta, (int)tb);
    return NULL;
  }
  for (int64_t bi = 0; bi < batch; bi++) {
    seqrec_sgemm((int)ta, (int)tb, mm, n, k, (f32)alpha, A.p + bi * mm * k, lda, B.p + bi * k * n, ldb, (f32)beta, C.p + bi * mm * n, n);
  }
  return NULL;
}
static napi_value sgemm(napi_env env, napi_callback_info info) { return gemm(env, info, 0); }
static napi_value sgemm_batched(napi_env env, napi_callback_info info) { return gemm(env, info, 1); }

/* column_sums over typed arrays: out[j] = Σ_r x[r, j]. */
static napi_value column_sums_typed(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  if (!get_args(env, info, 4, argv)) FAIL("expected 4 arguments");
  F32 x, out;
  int64_t rows, cols;
  if (!f32_arg(env, argv[0], &x, "x") || !f32_arg(env, argv[3], &out, "out")) return NULL;
  if (!get_i64(env, argv[1], &rows) || !get_i64(env, argv[2], &cols) || rows < 0 || cols < 0) FAIL("rows, cols must be counts");
  NEED(x, rows * cols, "x");
  NEED(out, cols, "out");
  column_sums_raw(x.p, rows, cols, out.p);
  return NULL;
}

/* ------------------------------------------------------------------ threads and facts */
static napi_value set_threads(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  int64_t n;
  if (!get_args(env, info, 1, argv) || !get_i64(env, argv[0], &n) || n < 1) FAIL("set_threads(n) needs n >= 1");
  omp_set_num_threads((int)n);
  openblas_set_num_threads(1); /* its calls are split over libgomp's threads (seqrec_sgemm) */
  return NULL;
}

static napi_value facts(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value obj, v;
  CHECK(napi_create_object(env, &obj));
  const char *config = openblas_get_config();
  CHECK(napi_create_string_utf8(env, config ? config : "", NAPI_AUTO_LENGTH, &v));
  CHECK(napi_set_named_property(env, obj, "openblas", v));
  CHECK(napi_create_int32(env, openblas_get_num_threads(), &v));
  CHECK(napi_set_named_property(env, obj, "blasThreads", v));
  CHECK(napi_create_int32(env, omp_get_max_threads(), &v));
  CHECK(napi_set_named_property(env, obj, "threads", v));
#ifdef __AVX2__
  CHECK(napi_get_boolean(env, true, &v));
#else
  CHECK(napi_get_boolean(env, false, &v));
#endif
  CHECK(napi_set_named_property(env, obj, "avx2", v));
  return obj;
}

NAPI_MODULE_INIT() {
  napi_property_descriptor props[] = {
      EXPORT(exp_inplace),      EXPORT(exp_shift_rows), EXPORT(scale_rows), EXPORT(scale_rows_both), EXPORT(gru_forward_step),
      EXPORT(gru_backward_step), EXPORT(batch_matmul), EXPORT(add_inplace), EXPORT(column_sums),   EXPORT(sgemm),
      EXPORT(sgemm_batched),    EXPORT(column_sums_typed), EXPORT(rowwise_gemm_typed), EXPORT(tanh_typed), EXPORT(set_threads),     EXPORT(facts),
  };
  if (napi_define_properties(env, exports, sizeof props / sizeof props[0], props) != napi_ok) return NULL;
  seqrec_register_optim(env, exports);
  seqrec_register_retrieval(env, exports);
  seqrec_register_embedding(env, exports);
  return exports;
}
