/*
 * Optimizer updates over typed arrays (views of the variables' memory): Adam as TF.js computes it.
 *
 * The JavaScript twins (src/train/fused-adam.ts, src/train/row-adam.ts) do the same operations
 * in the same order and precision, so both paths give the same bits. That needs every product and sum rounded
 * on its own: a fused multiply-add (which -mfma lets GCC form) rounds once and differs in the
 * last bit, so contraction is off for this file.
 */
#pragma GCC optimize("fp-contract=off")
#include <math.h>
#include <omp.h>
#include "napi_util.h"

/* The float32 constants of TF.js's Adam graph (tfjs-core adam_optimizer.ts), see adam_coefficients(). */
typedef struct {
  f32 b1, b2, omb1, omb2, c1, c2, eps, neg_lr;
} AdamK;

/*
 * hyper = lr, beta1, beta2, epsilon, accBeta1, accBeta2 (accBeta = the float32 product beta^t of
 * this step). TF.js turns each JS number into a float32 scalar: 1 - beta is computed in double
 * first, 1 - accBeta in float32 (same result: accBeta is a float32), the step is scaled by -lr.
 */
static AdamK adam_coefficients(const double *h) {
  AdamK k;
  k.b1 = (f32)h[1];
  k.b2 = (f32)h[2];
  k.omb1 = (f32)(1.0 - h[1]);
  k.omb2 = (f32)(1.0 - h[2]);
  k.c1 = 1.0f - (f32)h[4];
  k.c2 = 1.0f - (f32)h[5];
  k.eps = (f32)h[3];
  k.neg_lr = (f32)(-h[0]);
  return k;
}

/* One element, op for op as TF.js: m, v; m/(1-accB1) / (sqrt(v/(1-accB2)) + eps) * -lr + p. */
static inline void adam_one(f32 *p, f32 g, f32 *m, f32 *v, const AdamK *k) {
  f32 mi = k->b1 * *m + g * k->omb1;
  f32 vi = k->b2 * *v + (g * g) * k->omb2;
  *m = mi;
  *v = vi;
  f32 den = sqrtf(vi / k->c2) + k->eps;
  *p = *p + ((mi / k->c1) / den) * k->neg_lr;
}

static int hyper_args(napi_env env, napi_value *argv, double *h) {
  for (int i = 0; i < 6; i++)
    if (!get_f64(env, argv[i], &h[i])) {
      napi_throw_type_error(env, NULL, "adam: hyperparameters must be numbers");
      return 0;
    }
  return 1;
}

/* The dense update, from `param` into `out` (which may be `param`); arguments checked by the callers. */
static void adam_dense(f32 *out, const f32 *param, const f32 *grad, f32 *m, f32 *v, size_t n, const AdamK *k) {
#pragma omp parallel for if (n > 4 * PAR_MIN) schedule(static)
  for (size_t i = 0; i < n; i++) {
    f32 p = param[i];
    adam_one(&p, grad[i], &m[i], &v[i], k);
    out[i] = p;
  }
}

/*
 * adam(param, grad, m, v, lr, beta1, beta2, epsilon, accBeta1, accBeta2): TF.js's dense Adam
 * update of one variable in one pass, in place.
 */
static napi_value adam(napi_env env, napi_callback_info info) {
  napi_value argv[10];
  if (!get_args(env, info, 10, argv)) FAIL("expected 10 arguments");
  F32 p, g, mo, vo;
  if (!f32_arg(env, argv[0], &p, "param") || !f32_arg(env, argv[1], &g, "grad") || !f32_arg(env, argv[2], &mo, "m") || !f32_arg(env, argv[3], &vo, "v"))
    return NULL;
  double h[6];
  if (!hyper_args(env, argv + 4, h)) return NULL;
  if (g.n != p.n || mo.n != p.n || vo.n != p.n) FAIL("adam: param, grad, m, v differ in length");
  const AdamK k = adam_coefficients(h);
  adam_dense(p.p, p.p, g.p, mo.p, vo.p, p.n, &k);
  return NULL;
}

/*
 * adam_into(out, param, grad, m, v, lr, beta1, beta2, epsilon, accBeta1, accBeta2): the same
 * update written to `out`, `param` only read. For the wasm backend, whose XNNPACK matmuls keep
 * a packed copy of a weight per tensor: an in-place write would leave that copy stale, a new
 * tensor (same memory traffic: read the old values, write the new) does not.
 */
static napi_value adam_into(napi_env env, napi_callback_info info) {
  napi_value argv[11];
  if (!get_args(env, info, 11, argv)) FAIL("expected 11 arguments");
  F32 o, p, g, mo, vo;
  if (!f32_arg(env, argv[0], &o, "out") || !f32_arg(env, argv[1], &p, "param") || !f32_arg(env, argv[2], &g, "grad") || !f32_arg(env, argv[3], &mo, "m") ||
      !f32_arg(env, argv[4], &vo, "v"))
    return NULL;
  double h[6];
  if (!hyper_args(env, argv + 5, h)) return NULL;
  if (o.n != p.n || g.n != p.n || mo.n != p.n || vo.n != p.n) FAIL("adam_into: out, param, grad, m, v differ in length");
  const AdamK k = adam_coefficients(h);
  adam_dense(o.p, p.p, g.p, mo.p, vo.p, p.n, &k);
  return NULL;
}

/*
 * adam_rows(param, grad, indices, m, v, lr, beta1, beta2, epsilon, accBeta1, accBeta2): row-wise
 * ("lazy") Adam, src/train/row-adam.ts's arithmetic: in double, rounded to float32 where m, v and
 * the value are stored, accBeta = beta^t in double. param, m, v are [rows, D]; grad is
 * [indices.length, D], its row k belonging to row indices[k]. Indices must be distinct (threads
 * write whole rows).
 */
static napi_value adam_rows(napi_env env, napi_callback_info info) {
  napi_value argv[11];
  if (!get_args(env, info, 11, argv)) FAIL("expected 11 arguments");
  F32 p, g, mo, vo;
  if (!f32_arg(env, argv[0], &p, "param") || !f32_arg(env, argv[1], &g, "grad") || !f32_arg(env, argv[3], &mo, "m") || !f32_arg(env, argv[4], &vo, "v"))
    return NULL;
  void *idx_data;
  size_t count;
  if (!get_typed(env, argv[2], napi_int32_array, &idx_data, &count)) {
    napi_throw_type_error(env, NULL, "adam_rows: indices must be an Int32Array");
    return NULL;
  }
  const int32_t *idx = idx_data;
  double h[6];
  if (!hyper_args(env, argv + 5, h)) return NULL;
  if (mo.n != p.n || vo.n != p.n) FAIL("adam_rows: param, m, v differ in length");
  if (count == 0) return NULL;
  if (g.n % count != 0) FAIL("adam_rows: grad holds %zu floats, not a multiple of %zu rows", g.n, count);
  const size_t dim = g.n / count;
  if (p.n % dim != 0) FAIL("adam_rows: param of %zu floats is not [rows, %zu]", p.n, dim);
  const int64_t rows = (int64_t)(p.n / dim);
  for (size_t r = 0; r < count; r++)
    if (idx[r] < 0 || idx[r] >= rows) FAIL("adam_rows: index %d outside [0, %lld)", idx[r], (long long)rows);
  const double lr = h[0], b1 = h[1], b2 = h[2], eps = h[3], c1 = 1 - h[4], c2 = 1 - h[5];
#pragma omp parallel for if (g.n > 4 * PAR_MIN) schedule(static)
  for (size_t r = 0; r < count; r++) {
    const size_t base = (size_t)idx[r] * dim;
    const f32 *gr = g.p + r * dim;
    for (size_t d = 0; d < dim; d++) {
      const size_t i = base + d;
      const double gi = gr[d];
      mo.p[i] = (f32)(b1 * mo.p[i] + (1 - b1) * gi);
      vo.p[i] = (f32)(b2 * vo.p[i] + (1 - b2) * gi * gi);
      p.p[i] = (f32)(p.p[i] - (lr * (mo.p[i] / c1)) / (sqrt(vo.p[i] / c2) + eps));
    }
  }
  return NULL;
}

void seqrec_register_optim(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {EXPORT(adam), EXPORT(adam_into), EXPORT(adam_rows)};
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
}
