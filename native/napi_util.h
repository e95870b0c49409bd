/* N-API helpers shared by seqrec's native sources (argument checks that throw JavaScript errors). */
#ifndef SEQREC_NAPI_UTIL_H
#define SEQREC_NAPI_UTIL_H
#define NAPI_VERSION 8
#include <node_api.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

typedef float f32;

/* OpenMP regions only above this many floats of work: below it the fork costs more. */
#define PAR_MIN 32768L

/* ------------------------------------------------------------------ N-API helpers */
#define CHECK(call)                                                                              \
  do {                                                                                           \
    if ((call) != napi_ok) {                                                                     \
      napi_throw_error(env, NULL, "seqrec native: N-API call failed: " #call);                   \
      return NULL;                                                                               \
    }                                                                                            \
  } while (0)
#define FAIL(...)                                                                                \
  do {                                                                                           \
    char msg_[256];                                                                              \
    snprintf(msg_, sizeof msg_, __VA_ARGS__);                                                    \
    napi_throw_range_error(env, NULL, msg_);                                                     \
    return NULL;                                                                                 \
  } while (0)

static inline int get_args(napi_env env, napi_callback_info info, size_t want, napi_value *argv) {
  size_t argc = want;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return 0;
  return argc == want;
}

static inline int get_i64(napi_env env, napi_value v, int64_t *out) { return napi_get_value_int64(env, v, out) == napi_ok; }
static inline int get_f64(napi_env env, napi_value v, double *out) { return napi_get_value_double(env, v, out) == napi_ok; }

/* A Float32Array's (or Int32Array's) data and element count. */
static inline int get_typed(napi_env env, napi_value v, napi_typedarray_type want, void **data, size_t *length) {
  bool is;
  if (napi_is_typedarray(env, v, &is) != napi_ok || !is) return 0;
  napi_typedarray_type type;
  napi_value ab;
  size_t offset;
  if (napi_get_typedarray_info(env, v, &type, length, data, &ab, &offset) != napi_ok) return 0;
  return type == want;
}

/* The kernels' memory: an ArrayBuffer (or a typed array over one), as base pointer + bytes. */
static inline int get_memory(napi_env env, napi_value v, char **base, size_t *bytes) {
  bool is;
  if (napi_is_arraybuffer(env, v, &is) == napi_ok && is) return napi_get_arraybuffer_info(env, v, (void **)base, bytes) == napi_ok;
  void *data;
  size_t n;
  if (!get_typed(env, v, napi_float32_array, &data, &n)) return 0;
  *base = data;
  *bytes = n * 4;
  return 1;
}

/* Arguments of the offset-based kernels: memory, then integers (byte offsets, counts) and floats. */
typedef struct {
  char *base;
  size_t bytes;
  int64_t i[16];
} Mem;

static inline napi_value offset_args(napi_env env, napi_callback_info info, size_t count, Mem *m) {
  napi_value argv[17];
  if (!get_args(env, info, count + 1, argv)) FAIL("expected %zu arguments", count + 1);
  if (!get_memory(env, argv[0], &m->base, &m->bytes)) FAIL("argument 1 must be the kernels' ArrayBuffer");
  for (size_t k = 0; k < count; k++) {
    if (!get_i64(env, argv[k + 1], &m->i[k])) FAIL("argument %zu must be a number", k + 2);
  }
  napi_value ok;
  napi_get_boolean(env, true, &ok);
  return ok;
}

/* A float pointer at byte offset `off` with room for `n` floats, or NULL (and a thrown error). */
static inline f32 *at(napi_env env, Mem *m, int64_t off, int64_t n, const char *what) {
  if (off < 0 || n < 0 || (off & 3) || (uint64_t)off + 4 * (uint64_t)n > m->bytes) {
    char msg[160];
    snprintf(msg, sizeof msg, "%s: %lld floats at byte %lld exceed the kernels' memory of %zu bytes", what, (long long)n, (long long)off, m->bytes);
    napi_throw_range_error(env, NULL, msg);
    return NULL;
  }
  return (f32 *)(m->base + off);
}

#define PTR(name, off, n)                                                                        \
  f32 *name = at(env, &m, off, n, #name);                                                        \
  if (!name) return NULL
#define OFFSET_ARGS(count)                                                                       \
  Mem m;                                                                                         \
  if (!offset_args(env, info, count, &m)) return NULL

/* ------------------------------------------------------------------ typed-array entry points */
typedef struct {
  f32 *p;
  size_t n;
} F32;

static inline int f32_arg(napi_env env, napi_value v, F32 *out, const char *what) {
  void *data;
  if (!get_typed(env, v, napi_float32_array, &data, &out->n)) {
    char msg[96];
    snprintf(msg, sizeof msg, "%s must be a Float32Array", what);
    napi_throw_type_error(env, NULL, msg);
    return 0;
  }
  out->p = data;
  return 1;
}

static inline int i32_arg(napi_env env, napi_value v, int32_t **p, size_t *n, const char *what) {
  void *d;
  if (!get_typed(env, v, napi_int32_array, &d, n)) {
    char msg[96];
    snprintf(msg, sizeof msg, "%s must be an Int32Array", what);
    napi_throw_type_error(env, NULL, msg);
    return 0;
  }
  *p = d;
  return 1;
}

#define NEED(arr, count, what)                                                                   \
  if ((uint64_t)(count) > (arr).n) FAIL("%s holds %zu floats, needs %lld", what, (arr).n, (long long)(count))


/* OpenBLAS sgemm split over libgomp's threads (seqrec_native.c); cblas's argument order. */
void seqrec_sgemm(int ta, int tb, int64_t m, int64_t n, int64_t k, f32 alpha, const f32 *A, int64_t lda, const f32 *B, int64_t ldb, f32 beta, f32 *C,
                  int64_t ldc);

/* Each source file adds its functions to the module's exports. */
void seqrec_register_optim(napi_env env, napi_value exports);
void seqrec_register_retrieval(napi_env env, napi_value exports);
void seqrec_register_embedding(napi_env env, napi_value exports);
void seqrec_register_matmul(napi_env env, napi_value exports);
void seqrec_register_random(napi_env env, napi_value exports);

#define EXPORT(name) {#name, NULL, name, NULL, NULL, NULL, napi_enumerable, NULL}

#endif
