/**
 * Kernel overrides that make TF.js fast enough to train on without tfjs-node.
 *
 * Registration follows TF.js's own pattern (one KernelConfig per kernel and backend); the stock
 * kernel is unregistered first because re-registering only warns. The stock configs are kept
 * so tests can compare each override with the kernel it replaces.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import { nativeAddon, type NativeAddon } from './native.js';
import { simdKernels } from './simd.js';

const stockKernels = new Map<string, KernelConfig>();
const registeredFor = new Set<string>();

/** The kernel TF.js shipped for (kernelName, backend), before seqrec replaced it. */
export function stockKernel(kernelName: string, backendName: string): KernelConfig | undefined {
  return stockKernels.get(`${kernelName}/${backendName}`) ?? tf.getKernel(kernelName, backendName);
}

function override(config: KernelConfig): void {
  const key = `${config.kernelName}/${config.backendName}`;
  const stock = tf.getKernel(config.kernelName, config.backendName);
  if (stock && !stockKernels.has(key)) stockKernels.set(key, stock);
  if (stock) tf.unregisterKernel(config.kernelName, config.backendName);
  tf.registerKernel(config);
}

/**
 * wasm BatchMatMul: XNNPACK's path with transposeA/transposeB runs at 1-2 GFLOP/s against
 * 10-28 GFLOP/s without. Every backward pass of a matmul uses a transpose, so transposing
 * explicitly (a cheap memory pass) and calling the fast path roughly halves a training step.
 */
function wasmBatchMatMulFastTranspose(): KernelConfig {
  const stock = tf.getKernel('BatchMatMul', 'wasm');
  const transpose = tf.getKernel('Transpose', 'wasm');
  if (!stock || !transpose) throw new Error('wasm BatchMatMul/Transpose kernels are not registered');
  const stockFunc = stock.kernelFunc;
  const transposeLast2 = (x: TensorInfo, backend: object): TensorInfo => {
    const rank = x.shape.length;
    const perm = [...Array(rank).keys()];
    perm[rank - 2] = rank - 1;
    perm[rank - 1] = rank - 2;
    return transpose.kernelFunc({ inputs: { x }, backend, attrs: { perm } }) as TensorInfo;
  };
  const size = (t: TensorInfo) => t.shape.reduce((a, b) => a * b, 1);
  const kernelFunc: KernelFunc = (args) => {
    const { inputs, backend, attrs } = args;
    const { transposeA, transposeB } = attrs as { transposeA: boolean; transposeB: boolean };
    const addon = nativeAddon();
    const native = addon && nativeBatchMatMul(addon, inputs.a as TensorInfo, inputs.b as TensorInfo, transposeA, transposeB, backend as WasmBackendLike);
    if (native) return native;
    const small = batchedSmallMatMul(inputs.a as TensorInfo, inputs.b as TensorInfo, transposeA, transposeB, backend as WasmBackendLike);
    if (small) return small;
    if (!transposeA && !transposeB) return stockFunc(args);
    const disposeData = (info: TensorInfo) => (backend as { disposeData(id: object): void }).disposeData(info.dataId);
    const a = inputs.a as TensorInfo;
    const b = inputs.b as TensorInfo;
    const rank = a.shape.length;
    const rows = transposeA ? a.shape[rank - 1] : a.shape[rank - 2];
    const cols = transposeB ? b.shape[b.shape.length - 2] : b.shape[b.shape.length - 1];
    const outSize = (size(a) / (a.shape[rank - 1] * a.shape[rank - 2])) * rows * cols;
    // Two ways to reach the fast path: transpose the inputs that are marked transposed, or use
    // op(A)·op(B) = (op'(B)·op'(A))ᵀ, transposing the other inputs and the output instead.
    // Each costs a memory pass over what it transposes; take the smaller (for the softmax
    // gradient Gᵀ·U with G = [batch, items] the second is ~4x less memory traffic).
    const direct = (transposeA ? size(a) : 0) + (transposeB ? size(b) : 0);
    const swapped = (transposeA ? 0 : size(a)) + (transposeB ? 0 : size(b)) + outSize;
    if (direct <= swapped || a.shape.length !== b.shape.length) {
      const at = transposeA ? transposeLast2(a, backend) : a;
      const bt = transposeB ? transposeLast2(b, backend) : b;
      const out = stockFunc({ inputs: { a: at, b: bt }, backend, attrs: { ...attrs, transposeA: false, transposeB: false } });
      if (transposeA) disposeData(at);
      if (transposeB) disposeData(bt);
      return out;
    }
    const bt = transposeB ? b : transposeLast2(b, backend);
    const at = transposeA ? a : transposeLast2(a, backend);
    const outT = stockFunc({ inputs: { a: bt, b: at }, backend, attrs: { ...attrs, transposeA: false, transposeB: false } }) as TensorInfo;
    const out = transposeLast2(outT, backend);
    if (!transposeB) disposeData(bt);
    if (!transposeA) disposeData(at);
    disposeData(outT);
    return out;
  };
  return { kernelName: 'BatchMatMul', backendName: 'wasm', setupFunc: stock.setupFunc, kernelFunc };
}

interface WasmBackendLike {
  makeOutput(shape: number[], dtype: 'float32'): TensorInfo;
  typedArrayFromHeap(info: TensorInfo): Float32Array;
  incRef(dataId: object): void;
}

/**
 * Batched matmuls (rank 3, batch > 1, same batch on both sides): TF.js's wasm kernel runs these
 * through a generic scalar loop (~6 ms for MIND's [256, 4, 20] x [256, 20, 64]); seqrec's SIMD
 * kernel does them in well under 1 ms. Null when the shapes are not that case.
 */
function batchedSmallMatMul(a: TensorInfo, b: TensorInfo, ta: boolean, tb: boolean, backend: WasmBackendLike): TensorInfo | null {
  if (a.shape.length !== 3 || b.shape.length !== 3 || a.dtype !== 'float32' || b.dtype !== 'float32') return null;
  const batch = a.shape[0];
  if (batch <= 1 || b.shape[0] !== batch) return null;
  const [m, k] = ta ? [a.shape[2], a.shape[1]] : [a.shape[1], a.shape[2]];
  const [k2, n] = tb ? [b.shape[2], b.shape[1]] : [b.shape[1], b.shape[2]];
  if (k !== k2) return null;
  const simd = simdKernels();
  const arena = simd.arena(batch * m * k, batch * k * n, batch * m * n);
  arena.view(0).set(backend.typedArrayFromHeap(a));
  arena.view(1).set(backend.typedArrayFromHeap(b));
  simd.fn.batch_matmul(arena.at(0), arena.at(1), arena.at(2), batch, m, k, n, ta ? 1 : 0, tb ? 1 : 0);
  const out = backend.makeOutput([batch, m, n], 'float32');
  backend.typedArrayFromHeap(out).set(arena.view(2));
  return out;
}

/**
 * BatchMatMul through the native addon: OpenBLAS sgemm (seqrec's own loop for small batched
 * products) straight on the wasm heap, transposes included, so no transposed copies are made.
 * Covers equal batches and a batch of 1 on either side (TF.js broadcasts outer dimensions);
 * null for anything else, which the WebAssembly path handles.
 */
function nativeBatchMatMul(addon: NativeAddon, a: TensorInfo, b: TensorInfo, ta: boolean, tb: boolean, backend: WasmBackendLike): TensorInfo | null {
  if (a.dtype !== 'float32' || b.dtype !== 'float32') return null;
  const ra = a.shape.length;
  const rb = b.shape.length;
  const [m, k] = ta ? [a.shape[ra - 1], a.shape[ra - 2]] : [a.shape[ra - 2], a.shape[ra - 1]];
  const [k2, n] = tb ? [b.shape[rb - 1], b.shape[rb - 2]] : [b.shape[rb - 2], b.shape[rb - 1]];
  if (k !== k2) return null;
  const outerA = a.shape.slice(0, -2);
  const outerB = b.shape.slice(0, -2);
  const batchA = outerA.reduce((x, y) => x * y, 1);
  const batchB = outerB.reduce((x, y) => x * y, 1);
  let outer: number[];
  if (batchA === batchB && outerA.length === outerB.length && outerA.every((d, i) => d === outerB[i])) outer = outerA;
  else if (batchB === 1) outer = outerA.length >= outerB.length ? outerA : outerB;
  else if (batchA === 1) outer = outerB.length >= outerA.length ? outerB : outerA;
  else return null;
  const batch = Math.max(batchA, batchB);
  // Allocate first: makeOutput may grow the wasm memory, which detaches older views.
  const out = backend.makeOutput([...outer, m, n], 'float32');
  const A = backend.typedArrayFromHeap(a);
  const B = backend.typedArrayFromHeap(b);
  const C = backend.typedArrayFromHeap(out);
  const TA = ta ? 1 : 0;
  const TB = tb ? 1 : 0;
  // Plain A·B (the forward products of towers and recurrences) on the batch-invariant kernel,
  // so a user's vector does not depend on who else is in the batch; the transposed products
  // of the backward pass go to OpenBLAS.
  if (batch === 1 && !ta && !tb) addon.rowwise_gemm_typed(m, n, k, A, B, C);
  else if (batchA === batchB) addon.sgemm_batched(batch, TA, TB, m, n, k, 1, A, B, 0, C);
  else if (batchB === 1 && !ta && !tb)
    addon.rowwise_gemm_typed(batch * m, n, k, A, B, C); // the batches of A stacked as rows
  else if (batchB === 1 && !ta) addon.sgemm(0, 1, batch * m, n, k, 1, A, B, 0, C);
  else {
    for (let i = 0; i < batch; i++) {
      const Ai = batchA === 1 ? A : A.subarray(i * m * k, (i + 1) * m * k);
      const Bi = batchB === 1 ? B : B.subarray(i * k * n, (i + 1) * k * n);
      addon.sgemm(TA, TB, m, n, k, 1, Ai, Bi, 0, C.subarray(i * m * n, (i + 1) * m * n));
    }
  }
  return out;
}

/** A wasm kernel that runs `fast` and falls back to TF.js's stock kernel where `fast` returns null. */
function wasmKernelOr(kernelName: string, fast: (args: Parameters<KernelFunc>[0], backend: WasmBackendLike) => TensorInfo | null): KernelConfig {
  const stock = tf.getKernel(kernelName, 'wasm');
  if (!stock) throw new Error(`wasm ${kernelName} kernel is not registered`);
  const kernelFunc: KernelFunc = (args) => fast(args, args.backend as WasmBackendLike) ?? stock.kernelFunc(args);
  return { kernelName, backendName: 'wasm', setupFunc: stock.setupFunc, kernelFunc };
}

/**
 * wasm Sum over the leading axes of a float32 tensor (the bias gradients: [B·L, 3H] -> [3H]):
 * TF.js transposes the reduced axes innermost first, 8 ms for [5,120 x 192]; column sums read
 * the rows in order. Other reductions keep the stock kernel.
 */
function wasmSumLeadingAxes(): KernelConfig {
  return wasmKernelOr('Sum', (args, backend) => {
    const x = args.inputs.x as TensorInfo;
    const { axis, keepDims } = args.attrs as { axis: number | number[]; keepDims: boolean };
    const rank = x.shape.length;
    const axes = (Array.isArray(axis) ? axis : [axis]).map((a) => (a < 0 ? a + rank : a)).sort((p, q) => p - q);
    const leading = rank >= 2 && x.dtype === 'float32' && axes.length === rank - 1 && axes.every((a, i) => a === i);
    if (!leading) return null;
    const cols = x.shape[rank - 1];
    const rows = x.shape.slice(0, -1).reduce((p, q) => p * q, 1);
    const out = backend.makeOutput(keepDims ? [...x.shape.slice(0, -1).map(() => 1), cols] : [cols], 'float32');
    const addon = nativeAddon();
    if (addon) {
      addon.column_sums_typed(backend.typedArrayFromHeap(x), rows, cols, backend.typedArrayFromHeap(out));
      return out;
    }
    const simd = simdKernels();
    const arena = simd.arena(rows * cols, cols);
    arena.view(0).set(backend.typedArrayFromHeap(x));
    simd.fn.column_sums(arena.at(0), rows, cols, arena.at(1));
    backend.typedArrayFromHeap(out).set(arena.view(1));
    return out;
  });
}

/**
 * wasm Tanh through the addon's AVX2 tanh where it is loaded (8 ms for ComiRec-SA's [5,120 x 256]
 * attention layer on the stock scalar loop, under 1 ms vectorised); the stock kernel otherwise.
 */
function wasmNativeTanh(): KernelConfig {
  return wasmKernelOr('Tanh', (args, backend) => {
    const x = args.inputs.x as TensorInfo;
    const addon = nativeAddon();
    if (!addon || x.dtype !== 'float32') return null;
    const out = backend.makeOutput(x.shape, 'float32');
    addon.tanh_typed(backend.typedArrayFromHeap(x), backend.typedArrayFromHeap(out));
    return out;
  });
}

/**
 * wasm Identity shares its input's memory (a reference count, as the stock Reshape does) instead
 * of copying it. TF.js clones every tensor a gradient keeps for the backward pass through
 * Identity, so the stock copy cost SASRec 6 s of a 68 s ML-1M epoch. The in-place writers keep
 * clones intact: `updateInPlace` copies a variable's memory first when anything shares it.
 */
function wasmSharedIdentity(): KernelConfig {
  return wasmKernelOr('Identity', (args, backend) => {
    const x = args.inputs.x as TensorInfo;
    if (x.dtype === 'string') return null;
    backend.incRef(x.dataId);
    return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
  });
}

/** Registers seqrec's kernel overrides for `backendName` (idempotent). */
export function registerSeqrecKernels(backendName: string): void {
  if (registeredFor.has(backendName)) return;
  registeredFor.add(backendName);
  if (backendName === 'wasm') {
    override(wasmBatchMatMulFastTranspose());
    override(wasmSumLeadingAxes());
    override(wasmNativeTanh());
    override(wasmSharedIdentity());
  }
}
