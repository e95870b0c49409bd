/*
 * Dropout masks from src/util/random.ts's mulberry32 stream, bit for bit: one draw per element,
 * out[i] = value if draw < limit else 0. Native because the JavaScript loop costs ~20 ns a draw,
 * and SASRec at B 32 x L 200 draws 4.6 million a step: a quarter of an ML-1M epoch.
 */
#include "napi_util.h"

/* bernoulli_fill(out, state, limit, value) -> the stream's next state. */
static napi_value bernoulli_fill(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  if (!get_args(env, info, 4, argv)) FAIL("bernoulli_fill: expected 4 arguments");
  F32 out;
  int64_t state;
  double limit, value;
  if (!f32_arg(env, argv[0], &out, "out")) return NULL;
  if (!get_i64(env, argv[1], &state) || state < 0 || state > 0xffffffffLL) FAIL("bernoulli_fill: state must be an unsigned 32-bit integer");
  if (!get_f64(env, argv[2], &limit) || !get_f64(env, argv[3], &value)) FAIL("bernoulli_fill: limit and value must be numbers");
  uint32_t s = (uint32_t)state;
  const f32 v = (f32)value;
  for (size_t i = 0; i < out.n; i++) {
    s += 0x6d2b79f5u;
    uint32_t t = (s ^ (s >> 15)) * (s | 1u);
    t ^= t + (t ^ (t >> 7)) * (t | 61u);
    out.p[i] = (double)(t ^ (t >> 14)) < limit ? v : 0.0f;
  }
  napi_value next;
  CHECK(napi_create_uint32(env, s, &next));
  return next;
}

void seqrec_register_random(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {EXPORT(bernoulli_fill)};
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
}
