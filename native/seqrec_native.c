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
      EXPORT(gru_backward_step), EXPORT(add_inplace), EXPORT(column_sums), EXPORT(column_sums_typed), EXPORT(tanh_typed),
      EXPORT(set_threads),       EXPORT(facts),
  };
  if (napi_define_properties(env, exports, sizeof props / sizeof props[0], props) != napi_ok) return NULL;
  seqrec_register_optim(env, exports);
  seqrec_register_retrieval(env, exports);
  seqrec_register_embedding(env, exports);
  seqrec_register_matmul(env, exports);
  seqrec_register_random(env, exports);
  return exports;
}
