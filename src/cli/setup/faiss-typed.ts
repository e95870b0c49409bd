/**
 * The typed-array methods `seqrec setup faiss` adds to faiss-node 0.5.1's src/faiss.cc before
 * compiling it. faiss-node's own add/search take and return plain JS arrays, converted one
 * element at a time through N-API; at batch 256, top-50 that conversion, not faiss, was a
 * large share of a search (docs/retrieval.md has the measurements). The additions:
 *   index.searchTyped(Float32Array x, k) -> { distances: Float32Array, labels: Int32Array }
 *     (labels a Float64Array when ntotal >= 2^31), results written straight into the arrays;
 *   index.addTyped(Float32Array x), index.trainTyped(Float32Array x);
 *   setOmpThreads(n) / getOmpThreads() on the module: faiss's OpenMP pool size.
 * The original methods are unchanged, so code written for faiss-node keeps working; seqrec
 * feature-detects `searchTyped`.
 */

/** Inserted into `IndexBase`, before its `ntotal` method. */
const METHODS = `
  // ---- seqrec: typed-array entry points (no per-element N-API conversion) ----
  bool seqrecTyped(const Napi::CallbackInfo &info, float **data, size_t *length)
  {
    Napi::Env env = info.Env();
    if (info.Length() < 1 || !info[0].IsTypedArray() || info[0].As<Napi::TypedArray>().TypedArrayType() != napi_float32_array)
    {
      Napi::TypeError::New(env, "Invalid the first argument type, must be a Float32Array.").ThrowAsJavaScriptException();
      return false;
    }
    Napi::Float32Array arr = info[0].As<Napi::Float32Array>();
    *data = arr.Data();
    *length = arr.ElementLength();
    if (*length % index_->d != 0)
    {
      Napi::Error::New(env, "Invalid the given array length.").ThrowAsJavaScriptException();
      return false;
    }
    return true;
  }

  Napi::Value searchTyped(const Napi::CallbackInfo &info)
  {
    Napi::Env env = info.Env();
    float *xq;
    size_t length;
    if (info.Length() != 2 || !info[1].IsNumber())
    {
      Napi::TypeError::New(env, "searchTyped(x: Float32Array, k: number) expects 2 arguments.").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    if (!seqrecTyped(info, &xq, &length)) return env.Undefined();
    const int64_t k = info[1].As<Napi::Number>().Int64Value();
    if (k < 1 || k > index_->ntotal)
    {
      Napi::Error::New(env, "Invalid the number of k (must be in [1, ntotal = " + std::to_string(index_->ntotal) + "]).").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    const size_t nq = length / index_->d;
    Napi::Float32Array distances = Napi::Float32Array::New(env, nq * k);
    std::vector<idx_t> labels(nq * k);
    index_->search(nq, xq, k, distances.Data(), labels.data());
    Napi::Object results = Napi::Object::New(env);
    results.Set("distances", distances);
    if (index_->ntotal <= 2147483647)
    {
      Napi::Int32Array out = Napi::Int32Array::New(env, nq * k);
      int32_t *o = out.Data();
      for (size_t i = 0; i < nq * k; i++) o[i] = (int32_t)labels[i];
      results.Set("labels", out);
    }
    else
    {
      Napi::Float64Array out = Napi::Float64Array::New(env, nq * k);
      double *o = out.Data();
      for (size_t i = 0; i < nq * k; i++) o[i] = (double)labels[i];
      results.Set("labels", out);
    }
    return results;
  }

  Napi::Value addTyped(const Napi::CallbackInfo &info)
  {
    float *x;
    size_t length;
    if (!seqrecTyped(info, &x, &length)) return info.Env().Undefined();
    index_->add(length / index_->d, x);
    return info.Env().Undefined();
  }

  Napi::Value trainTyped(const Napi::CallbackInfo &info)
  {
    float *x;
    size_t length;
    if (!seqrecTyped(info, &x, &length)) return info.Env().Undefined();
    index_->train(length / index_->d, x);
    return info.Env().Undefined();
  }
`;

/** Module functions, inserted before the module's Init. */
const MODULE_FUNCTIONS = `
// ---- seqrec: faiss's OpenMP pool (faiss-node has no thread control) ----
#include <omp.h>
static Napi::Value seqrecSetOmpThreads(const Napi::CallbackInfo &info)
{
  if (info.Length() != 1 || !info[0].IsNumber() || info[0].As<Napi::Number>().Int32Value() < 1)
  {
    Napi::TypeError::New(info.Env(), "setOmpThreads(n) needs n >= 1.").ThrowAsJavaScriptException();
    return info.Env().Undefined();
  }
  omp_set_num_threads(info[0].As<Napi::Number>().Int32Value());
  return info.Env().Undefined();
}
static Napi::Value seqrecGetOmpThreads(const Napi::CallbackInfo &info)
{
  return Napi::Number::New(info.Env(), omp_get_max_threads());
}
`;

/** Returns faiss.cc with the additions; throws if faiss.cc does not look like 0.5.1's. */
export function patchFaissSource(src: string): string {
  const ntotal = '  Napi::Value ntotal(const Napi::CallbackInfo &info)';
  const init = 'Napi::Object Init(Napi::Env env, Napi::Object exports)\n{';
  const search = /( *)InstanceMethod\("search", &(\w+)::search\),\n/g;
  const classes = [...src.matchAll(search)].length;
  if (src.split(ntotal).length !== 2 || src.split(init).length !== 2 || classes !== 3) {
    throw new Error(`faiss-node's src/faiss.cc does not look like 0.5.1's (anchors for the typed-array patch not found; ${classes} search registrations)`);
  }
  return src
    .replace('#include <napi.h>\n', '#include <napi.h>\n#include <vector>\n')
    .replace(ntotal, `${METHODS}\n${ntotal}`)
    .replace(
      search,
      (_m, pad: string, cls: string) =>
        `${pad}InstanceMethod("search", &${cls}::search),\n${pad}InstanceMethod("searchTyped", &${cls}::searchTyped),\n` +
        `${pad}InstanceMethod("addTyped", &${cls}::addTyped),\n${pad}InstanceMethod("trainTyped", &${cls}::trainTyped),\n`,
    )
    .replace(
      init,
      `${MODULE_FUNCTIONS}\n${init}\n  exports.Set("setOmpThreads", Napi::Function::New(env, seqrecSetOmpThreads));\n` +
        '  exports.Set("getOmpThreads", Napi::Function::New(env, seqrecGetOmpThreads));',
    );
}
