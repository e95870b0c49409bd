/**
 * Zero-copy reads of tensor data for seqrec's JavaScript kernels.
 *
 * `dataSync()` copies a tensor out of the backend every call. The cpu backend keeps values in
 * a JS typed array and the wasm backend in its linear memory, so both can be read in place.
 * A view is valid only until the next TF.js operation (which may free the tensor or grow wasm
 * memory and detach the buffer): read it, then drop it.
 */
import * as tf from '@tensorflow/tfjs-core';

interface WasmLike {
  dataIdMap: { get(id: object): { memoryOffset: number } | undefined };
  wasm: { HEAPU8: Uint8Array };
}
interface CpuLike {
  data: { get(id: object): { values?: ArrayLike<number> } | undefined };
}

function view(t: tf.Tensor): Float32Array | Int32Array | null {
  const backend = tf.engine().backend as unknown;
  const name = tf.getBackend();
  if (name === 'wasm') {
    const entry = (backend as WasmLike).dataIdMap.get(t.dataId);
    if (!entry) return null;
    const heap = (backend as WasmLike).wasm.HEAPU8;
    const Ctor = t.dtype === 'int32' ? Int32Array : Float32Array;
    return new Ctor(heap.buffer as ArrayBuffer, heap.byteOffset + entry.memoryOffset, t.size);
  }
  if (name === 'cpu') {
    const values = (backend as CpuLike).data.get(t.dataId)?.values;
    if (values instanceof Float32Array || values instanceof Int32Array) return values;
  }
  return null;
}

/** The float32 data of `t`, without copying where the backend allows it. Do not write to it. */
export function readFloats(t: tf.Tensor): Float32Array {
  if (t.dtype !== 'float32') throw new Error(`readFloats: expected float32, got ${t.dtype}`);
  return (view(t) as Float32Array | null) ?? (t.dataSync() as Float32Array);
}

/** The int32 data of `t`, without copying where the backend allows it. Do not write to it. */
export function readInts(t: tf.Tensor): Int32Array {
  if (t.dtype !== 'int32') throw new Error(`readInts: expected int32, got ${t.dtype}`);
  return (view(t) as Int32Array | null) ?? (t.dataSync() as Int32Array);
}

interface WasmOutputs {
  makeOutput(shape: number[], dtype: 'float32'): tf.TensorInfo;
}

/**
 * A new float32 tensor of `shape` whose every value `fill` writes. On wasm `fill` writes straight
 * into the backend's memory (no JavaScript array, no copy in); the array is uninitialised there,
 * and `fill` must not call TF.js (an allocation may grow wasm memory and detach the view).
 */
export function tensorFilledBy<R extends tf.Rank = tf.Rank>(shape: number[], fill: (values: Float32Array) => void): tf.Tensor<R> {
  if (tf.getBackend() === 'wasm') {
    const info = (tf.backend() as unknown as WasmOutputs).makeOutput(shape, 'float32');
    const t = tf.engine().makeTensorFromTensorInfo(info) as tf.Tensor<R>;
    fill(view(t) as Float32Array);
    return t;
  }
  const values = new Float32Array(shape.reduce((a, b) => a * b, 1));
  fill(values);
  return tf.tensor(values, shape, 'float32') as unknown as tf.Tensor<R>;
}

/** True when a tensor other than `t` holds `t`'s memory (the backend's reference count). */
function sharedMemory(t: tf.Tensor): boolean {
  const backend = tf.engine().backend as unknown as { refCount?(dataId: object): number };
  return (backend.refCount?.(t.dataId) ?? 1) > 1;
}

/**
 * Runs `update` on the float32 data of variable `v` in place where the backend keeps it in
 * reach (wasm linear memory, the cpu backend's array); elsewhere on a copy that is assigned
 * back (correct, but a full pass over the variable). `update` must not call TF.js.
 */
export function updateInPlace(v: tf.Variable, update: (values: Float32Array) => void): void {
  if (v.dtype !== 'float32') throw new Error(`updateInPlace: expected float32, got ${v.dtype}`);
  // In-place writes must not show through other tensors: a variable shares its memory with the
  // tensor it was made from, with reshapes and (seqrec's wasm Identity) clones, which TF.js's
  // own `assign` never writes to. Give it a private copy first when anything else holds it.
  if (sharedMemory(v)) {
    const own = tensorFilledBy(v.shape, (out) => out.set(readFloats(v)));
    v.assign(own);
    own.dispose();
  }
  const inPlace = view(v) as Float32Array | null;
  if (inPlace) {
    update(inPlace);
    return;
  }
  const copy = (v.dataSync() as Float32Array).slice();
  update(copy);
  tf.tidy(() => v.assign(tf.tensor(copy, v.shape, 'float32')));
}
