/*
 * Retrieval kernels over typed arrays, for src/retrieval/exact.ts and faiss/retriever.ts:
 *  - exact_topk: exact inner-product top-k, scored by OpenBLAS sgemm in blocks, selected per
 *    query row with a size-k heap (OpenMP over rows);
 *  - rescore_topk: re-scores faiss's candidate labels with the JavaScript retrievers' own
 *    arithmetic (float64 sum in order, rounded to float32) and keeps the best k, so the
 *    native and JavaScript paths return the same lists bit for bit.
 * Order everywhere: score descending, ties to the lower id (TopKHeap's rule); item 0 is
 * padding and never returned; excluded ids (CSR per user) never take a slot; short lists are
 * padded with -1 / -Infinity.
 */
#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include "napi_util.h"
#ifdef __AVX2__
#include <immintrin.h>
#endif

/* Items scored per sgemm call: 256 rows x 4096 items of float32 is a 4 MiB score block. */
#define ITEM_BLOCK 4096
#define ROW_BLOCK 256

typedef struct {
  int32_t *id;
  f32 *s;
  int n, k;
} Heap;

/* a is worse than b: lower score, or the same score and a higher id. */
static inline int worse(f32 sa, int32_t ia, f32 sb, int32_t ib) { return sa < sb || (sa == sb && ia > ib); }

static void sift_down(Heap *h, int i, int32_t id, f32 s, int size) {
  for (;;) {
    int c = 2 * i + 1;
    if (c >= size) break;
    if (c + 1 < size && worse(h->s[c + 1], h->id[c + 1], h->s[c], h->id[c])) c++;
    if (worse(s, id, h->s[c], h->id[c])) break;
    h->id[i] = h->id[c];
    h->s[i] = h->s[c];
    i = c;
  }
  h->id[i] = id;
  h->s[i] = s;
}

/* The root is the worst kept pair, so most candidates are rejected by one comparison. */
static inline void heap_push(Heap *h, int32_t id, f32 s) {
  if (s != s) return;
  if (h->n < h->k) {
    int i = h->n++;
    while (i > 0) {
      int p = (i - 1) >> 1;
      if (worse(h->s[p], h->id[p], s, id)) break;
      h->id[i] = h->id[p];
      h->s[i] = h->s[p];
      i = p;
    }
    h->id[i] = id;
    h->s[i] = s;
    return;
  }
  if (!worse(h->s[0], h->id[0], s, id)) return;
  sift_down(h, 0, id, s, h->n);
}

/* Best first into out, padded to k; empties the heap. */
static void heap_drain(Heap *h, int32_t *outId, f32 *outS) {
  for (int j = h->n; j < h->k; j++) {
    outId[j] = -1;
    outS[j] = -INFINITY;
  }
  for (int last = h->n - 1; last >= 0; last--) {
    outId[last] = h->id[0];
    outS[last] = h->s[0];
    if (last > 0) sift_down(h, 0, h->id[last], h->s[last], last);
  }
  h->n = 0;
}

static int cmp_i32(const void *a, const void *b) {
  int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
  return (x > y) - (x < y);
}

static inline int sorted_has(const int32_t *a, int n, int32_t v) {
  int lo = 0, hi = n;
  while (lo < hi) {
    int mid = (lo + hi) >> 1;
    if (a[mid] < v) lo = mid + 1;
    else hi = mid;
  }
  return lo < n && a[lo] == v;
}

/* Exclusion lists as CSR (off [users + 1], ids), copied and sorted per user for binary search. */
typedef struct {
  int32_t *off, *ids;
} Excl;

static napi_value excl_arg(napi_env env, napi_value offV, napi_value idsV, int64_t users, Excl *e, int *ok) {
  *ok = 0;
  e->off = NULL;
  e->ids = NULL;
  napi_valuetype t;
  CHECK(napi_typeof(env, offV, &t));
  if (t == napi_null || t == napi_undefined) {
    *ok = 1;
    return NULL;
  }
  void *po, *pi;
  size_t no, ni;
  if (!get_typed(env, offV, napi_int32_array, &po, &no) || !get_typed(env, idsV, napi_int32_array, &pi, &ni)) FAIL("exclusions must be two Int32Arrays");
  const int32_t *off = po;
  if ((int64_t)no != users + 1 || off[0] != 0) FAIL("exclusion offsets must hold users + 1 = %lld entries from 0", (long long)(users + 1));
  for (int64_t u = 0; u < users; u++)
    if (off[u + 1] < off[u] || (size_t)off[u + 1] > ni) FAIL("exclusion offsets are not increasing within the ids");
  e->off = malloc(no * sizeof(int32_t));
  e->ids = malloc((ni ? ni : 1) * sizeof(int32_t));
  if (!e->off || !e->ids) FAIL("out of memory for exclusions");
  memcpy(e->off, off, no * sizeof(int32_t));
  memcpy(e->ids, pi, ni * sizeof(int32_t));
  for (int64_t u = 0; u < users; u++) qsort(e->ids + off[u], (size_t)(off[u + 1] - off[u]), sizeof(int32_t), cmp_i32);
  *ok = 1;
  return NULL;
}

static inline int excluded(const Excl *e, int64_t user, int32_t id) {
  if (!e->off) return 0;
  int32_t a = e->off[user], b = e->off[user + 1];
  return a < b && sorted_has(e->ids + a, b - a, id);
}

static void excl_free(Excl *e) {
  free(e->off);
  free(e->ids);
}

/*
 * exact_topk(items, numItems, dim, rows, numRows, k, interests, exclOff|null, exclIds|null,
 * outIds, outScores): items [numItems, dim] with row 0 padding; rows [numRows, dim], row r
 * belonging to user r / interests; out [numRows, k].
 */
static napi_value exact_topk(napi_env env, napi_callback_info info) {
  napi_value a[11];
  if (!get_args(env, info, 11, a)) FAIL("exact_topk expects 11 arguments");
  F32 items, rows, outS;
  int64_t numItems, dim, numRows, k, interests;
  if (!f32_arg(env, a[0], &items, "items") || !f32_arg(env, a[3], &rows, "rows") || !f32_arg(env, a[10], &outS, "outScores")) return NULL;
  if (!get_i64(env, a[1], &numItems) || !get_i64(env, a[2], &dim) || !get_i64(env, a[4], &numRows) || !get_i64(env, a[5], &k) ||
      !get_i64(env, a[6], &interests))
    FAIL("numItems, dim, numRows, k, interests must be numbers");
  if (numItems < 1 || dim < 1 || numRows < 0 || k < 1 || k > INT32_MAX || interests < 1 || numItems > INT32_MAX) FAIL("bad sizes");
  int32_t *outId;
  size_t nOut;
  if (!i32_arg(env, a[9], &outId, &nOut, "outIds")) return NULL;
  NEED(items, numItems * dim, "items");
  NEED(rows, numRows * dim, "rows");
  NEED(outS, numRows * k, "outScores");
  if ((uint64_t)(numRows * k) > nOut) FAIL("outIds holds %zu ints, needs %lld", nOut, (long long)(numRows * k));
  Excl ex;
  int ok;
  excl_arg(env, a[7], a[8], (numRows + interests - 1) / interests, &ex, &ok);
  if (!ok) return NULL;

  const int64_t real = numItems - 1;
  const int64_t rb = numRows < ROW_BLOCK ? numRows : ROW_BLOCK;
  const int64_t ib = real < ITEM_BLOCK ? real : ITEM_BLOCK;
  f32 *scores = malloc((size_t)(rb * (ib ? ib : 1)) * sizeof(f32));
  int32_t *hid = malloc((size_t)(rb * k) * sizeof(int32_t));
  f32 *hs = malloc((size_t)(rb * k) * sizeof(f32));
  int *hn = calloc((size_t)(rb ? rb : 1), sizeof(int));
  if (!scores || !hid || !hs || !hn) {
    free(scores), free(hid), free(hs), free(hn), excl_free(&ex);
    FAIL("out of memory");
  }
  for (int64_t r0 = 0; r0 < numRows; r0 += rb) {
    const int64_t nr = numRows - r0 < rb ? numRows - r0 : rb;
    memset(hn, 0, (size_t)nr * sizeof(int));
    for (int64_t i0 = 0; i0 < real; i0 += ib) {
      const int64_t ni = real - i0 < ib ? real - i0 : ib;
      // Item i0 + j is matrix row 1 + i0 + j: row 0 (padding) is never scored.
      seqrec_sgemm(0, 1, nr, ni, dim, 1.0f, rows.p + r0 * dim, dim, items.p + (1 + i0) * dim, dim, 0.0f, scores, ni);
#pragma omp parallel for schedule(static) if (nr * ni > PAR_MIN)
      for (int64_t r = 0; r < nr; r++) {
        Heap h = {hid + r * k, hs + r * k, hn[r], (int)k};
        const int64_t user = (r0 + r) / interests;
        const f32 *s = scores + r * ni;
        for (int64_t j = 0; j < ni; j++) {
          // Ids ascend within a row, so a tie with the root loses: reject s <= root.
          if (h.n == h.k && !(s[j] > h.s[0])) continue;
          const int32_t id = (int32_t)(1 + i0 + j);
          if (excluded(&ex, user, id)) continue;
          heap_push(&h, id, s[j]);
        }
        hn[r] = h.n;
      }
    }
    for (int64_t r = 0; r < nr; r++) {
      Heap h = {hid + r * k, hs + r * k, hn[r], (int)k};
      heap_drain(&h, outId + (r0 + r) * k, outS.p + (r0 + r) * k);
    }
  }
  free(scores), free(hid), free(hs), free(hn), excl_free(&ex);
  return NULL;
}

/*
 * rescore_topk(items, numReal, dim, rows, numRows, labels, fetch, k, interests, exclOff|null,
 * exclIds|null, distances|null, maxItemNorm, outIds, outScores, outFallback): items [numReal,
 * dim] (faiss label l = item l + 1), labels/distances [numRows, fetch] from faiss. With
 * `distances` (an exhaustive index), outFallback[r] = 1 marks rows whose cut faiss's float32
 * ranking cannot settle (the caller re-scans them exactly, as the JavaScript path does).
 */
static napi_value rescore_topk(napi_env env, napi_callback_info info) {
  napi_value a[16];
  if (!get_args(env, info, 16, a)) FAIL("rescore_topk expects 16 arguments");
  F32 items, rows, outS;
  int64_t numReal, dim, numRows, fetch, k, interests;
  double maxNorm;
  if (!f32_arg(env, a[0], &items, "items") || !f32_arg(env, a[3], &rows, "rows") || !f32_arg(env, a[14], &outS, "outScores")) return NULL;
  if (!get_i64(env, a[1], &numReal) || !get_i64(env, a[2], &dim) || !get_i64(env, a[4], &numRows) || !get_i64(env, a[6], &fetch) ||
      !get_i64(env, a[7], &k) || !get_i64(env, a[8], &interests) || !get_f64(env, a[12], &maxNorm))
    FAIL("sizes must be numbers");
  if (numReal < 0 || dim < 1 || numRows < 0 || fetch < 0 || k < 1 || k > INT32_MAX || interests < 1) FAIL("bad sizes");
  int32_t *labels, *outId;
  size_t nl, nOut;
  if (!i32_arg(env, a[5], &labels, &nl, "labels") || !i32_arg(env, a[13], &outId, &nOut, "outIds")) return NULL;
  void *pf;
  size_t nf;
  if (!get_typed(env, a[15], napi_uint8_array, &pf, &nf) || (int64_t)nf < numRows) FAIL("outFallback must be a Uint8Array of numRows");
  uint8_t *fallback = pf;
  F32 dist = {NULL, 0};
  napi_valuetype t;
  CHECK(napi_typeof(env, a[11], &t));
  if (t != napi_null && t != napi_undefined) {
    if (!f32_arg(env, a[11], &dist, "distances")) return NULL;
    NEED(dist, numRows * fetch, "distances");
  }
  NEED(items, numReal * dim, "items");
  NEED(rows, numRows * dim, "rows");
  NEED(outS, numRows * k, "outScores");
  if ((int64_t)nl < numRows * fetch || (int64_t)nOut < numRows * k) FAIL("labels or outIds too short");
  Excl ex;
  int ok;
  excl_arg(env, a[9], a[10], (numRows + interests - 1) / interests, &ex, &ok);
  if (!ok) return NULL;
  int32_t *hid = malloc((size_t)(numRows * k + 1) * sizeof(int32_t));
  f32 *hs = malloc((size_t)(numRows * k + 1) * sizeof(f32));
  int32_t *candAll = malloc((size_t)(numRows * fetch + 1) * sizeof(int32_t));
  if (!hid || !hs || !candAll) {
    free(hid), free(hs), free(candAll), excl_free(&ex);
    FAIL("out of memory");
  }
#pragma omp parallel for schedule(static) if (numRows * fetch * dim > PAR_MIN)
  for (int64_t r = 0; r < numRows; r++) {
    Heap h = {hid + r * k, hs + r * k, 0, (int)k};
    const int64_t user = r / interests;
    const int32_t *lab = labels + r * fetch;
    const f32 *q = rows.p + r * dim;
    // Candidates to score, in faiss's order (the heap's result does not depend on the order).
    int32_t *cand = candAll + r * fetch;
    int64_t nc = 0;
    for (int64_t j = 0; j < fetch; j++) {
      const int32_t l = lab[j];
      if (l < 0 || l >= numReal) continue;
      if (excluded(&ex, user, l + 1)) continue;
      cand[nc++] = l;
    }
    // float32 products are exact in double, so a fused multiply-add rounds once, like
    // JavaScript's separate multiply and add: each candidate's sum is JavaScript's, in order
    // over c. Four candidates share one vector (one sum per lane), where one sum at a time
    // waits on the add's latency at every step.
    int64_t j = 0;
#ifdef __AVX2__
    for (; j + 4 <= nc; j += 4) {
      const f32 *v0 = items.p + (int64_t)cand[j] * dim, *v1 = items.p + (int64_t)cand[j + 1] * dim;
      const f32 *v2 = items.p + (int64_t)cand[j + 2] * dim, *v3 = items.p + (int64_t)cand[j + 3] * dim;
      __m256d acc = _mm256_setzero_pd();
      for (int64_t c = 0; c < dim; c++) {
        const __m256d v = _mm256_cvtps_pd(_mm_set_ps(v3[c], v2[c], v1[c], v0[c]));
        acc = _mm256_fmadd_pd(v, _mm256_set1_pd((double)q[c]), acc);
      }
      double out[4];
      _mm256_storeu_pd(out, acc);
      for (int t = 0; t < 4; t++) heap_push(&h, cand[j + t] + 1, (f32)out[t]);
    }
#endif
    for (; j < nc; j++) {
      const f32 *v = items.p + (int64_t)cand[j] * dim;
      double s = 0;
      for (int64_t c = 0; c < dim; c++) s += (double)v[c] * (double)q[c];
      heap_push(&h, cand[j] + 1, (f32)s);
    }
    fallback[r] = 0;
    if (dist.p && fetch > 0 && fetch < numReal && lab[fetch - 1] >= 0) {
      double qq = 0;
      for (int64_t c = 0; c < dim; c++) qq += (double)q[c] * (double)q[c];
      const double threshold = h.n < h.k ? -INFINITY : (double)h.s[0];
      if (h.n < h.k || (double)dist.p[r * fetch + fetch - 1] + 2.0 * (double)(dim + 1) * ldexp(1.0, -24) * sqrt(qq) * maxNorm >= threshold) fallback[r] = 1;
    }
    heap_drain(&h, outId + r * k, outS.p + r * k);
  }
  free(hid), free(hs), free(candAll), excl_free(&ex);
  return NULL;
}

void seqrec_register_retrieval(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {EXPORT(exact_topk), EXPORT(rescore_topk)};
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
}
