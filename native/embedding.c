/*
 * Embedding rows: the forward gather and the backward scatter-add of src/ops/embedding.ts, on
 * typed arrays (the tensors' own memory on wasm). Native because the JavaScript loops cost about
 * 1 ms each per step at B 256 x L 20 x D 64, a tenth of a YouTube DNN step.
 */
#include <string.h>

#include "napi_util.h"

/* gather_rows(out, table, indices, dim): out[i, :] = table[indices[i], :]. */
static napi_value gather_rows(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  if (!get_args(env, info, 4, argv)) FAIL("gather_rows: expected 4 arguments");
  F32 out, table;
  int32_t *idx;
  size_t count;
  int64_t dim;
  if (!f32_arg(env, argv[0], &out, "out") || !f32_arg(env, argv[1], &table, "table") || !i32_arg(env, argv[2], &idx, &count, "gather_rows: indices")) return NULL;
  if (!get_i64(env, argv[3], &dim) || dim < 1) FAIL("gather_rows: dim must be a positive count");
  NEED(out, (int64_t)count * dim, "out");
  const int64_t rows = (int64_t)(table.n / (size_t)dim);
  for (size_t i = 0; i < count; i++) {
    if (idx[i] < 0 || idx[i] >= rows) FAIL("embedding index %d is out of range [0, %lld)", idx[i], (long long)rows);
    memcpy(out.p + i * dim, table.p + (int64_t)idx[i] * dim, (size_t)dim * sizeof(f32));
  }
  return NULL;
}

/* scatter_add_rows(out, dy, indices, dim): out = 0, then out[indices[i], :] += dy[i, :] in order. */
static napi_value scatter_add_rows(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  if (!get_args(env, info, 4, argv)) FAIL("scatter_add_rows: expected 4 arguments");
  F32 out, dy;
  int32_t *idx;
  size_t count;
  int64_t dim;
  if (!f32_arg(env, argv[0], &out, "out") || !f32_arg(env, argv[1], &dy, "dy") || !i32_arg(env, argv[2], &idx, &count, "scatter_add_rows: indices")) return NULL;
  if (!get_i64(env, argv[3], &dim) || dim < 1) FAIL("scatter_add_rows: dim must be a positive count");
  NEED(dy, (int64_t)count * dim, "dy");
  const int64_t rows = (int64_t)(out.n / (size_t)dim);
  for (size_t i = 0; i < count; i++)
    if (idx[i] < 0 || idx[i] >= rows) FAIL("scatter_add_rows: index %d outside [0, %lld)", idx[i], (long long)rows);
  memset(out.p, 0, out.n * sizeof(f32));
  /* In index order, one row after another: the same float sums as the JavaScript loop. */
  for (size_t i = 0; i < count; i++) {
    f32 *dst = out.p + (int64_t)idx[i] * dim;
    const f32 *src = dy.p + i * dim;
    for (int64_t d = 0; d < dim; d++) dst[d] += src[d];
  }
  return NULL;
}

void seqrec_register_embedding(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {EXPORT(gather_rows), EXPORT(scatter_add_rows)};
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
}
