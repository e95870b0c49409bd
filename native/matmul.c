/*
 * Matrix products of seqrec's native kernels (see seqrec_native.c for the module):
 *  - small batched products on seqrec's own loop (routing, attention): batch_matmul on the
 *    kernels' memory, sgemm_batched for small matrices;
 *  - rowwise_gemm, the batch-invariant A·B of the forward passes;
 *  - seqrec_sgemm, OpenBLAS split over libgomp's threads, behind sgemm / sgemm_batched.
 */
#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <stdint.h>
#include <stdlib.h>
#include "napi_util.h"
#ifdef __AVX2__
#include <immintrin.h>
#endif

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

void seqrec_register_matmul(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {EXPORT(batch_matmul), EXPORT(rowwise_gemm_typed), EXPORT(sgemm), EXPORT(sgemm_batched)};
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
}
