/*
 * Optimizer updates over typed arrays (views of the variables' memory): Adam as TF.js computes it.
 */
#include <math.h>
#include <omp.h>
#include "napi_util.h"

/*
 * adam(param, grad, m, v, lr, beta1, beta2, epsilon, accBeta1, accBeta2): TF.js's Adam update in
 * one pass (tfjs-core adam_optimizer.ts: m and v first, then the bias-corrected step with
 * epsilon added to the square root), with accBeta = beta^t of this step.
 */
static napi_value adam(napi_env env, napi_callback_info info) {
  napi_value argv[10];
  if (!get_args(env, info, 10, argv)) FAIL("expected 10 arguments");
  F32 p, g, mo, vo;
  if (!f32_arg(env, argv[0], &p, "param") || !f32_arg(env, argv[1], &g, "grad") || !f32_arg(env, argv[2], &mo, "m") || !f32_arg(env, argv[3], &vo, "v"))
    return NULL;
  double h[6];
  for (int i = 0; i < 6; i++)
    if (!get_f64(env, argv[4 + i], &h[i])) FAIL("adam: hyperparameters must be numbers");
  size_t n = p.n;
  if (g.n != n || mo.n != n || vo.n != n) FAIL("adam: param, grad, m, v differ in length");
  const f32 lr = (f32)h[0], b1 = (f32)h[1], b2 = (f32)h[2], eps = (f32)h[3];
  const f32 c1 = (f32)(1.0 / (1.0 - h[4])), c2 = (f32)(1.0 / (1.0 - h[5]));
#pragma omp parallel for if (n > 4 * PAR_MIN) schedule(static)
  for (size_t i = 0; i < n; i++) {
    f32 gi = g.p[i];
    f32 mi = b1 * mo.p[i] + (1 - b1) * gi;
    f32 vi = b2 * vo.p[i] + (1 - b2) * gi * gi;
    mo.p[i] = mi;
    vo.p[i] = vi;
    p.p[i] -= lr * (mi * c1) / (sqrtf(vi * c2) + eps);
  }
  return NULL;
}

void seqrec_register_optim(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {EXPORT(adam)};
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
}
