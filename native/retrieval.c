/*
 * Retrieval kernels over typed arrays (none yet).
 */
#include "napi_util.h"

void seqrec_register_retrieval(napi_env env, napi_value exports) {
  (void)env;
  (void)exports;
}
