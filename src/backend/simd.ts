/**
 * seqrec's WebAssembly SIMD kernels (src/backend/simd/kernels.c), for the element-wise passes
 * the TF.js backends have no fused op for: the row log-sum-exp of full softmax and the GRU's
 * gates. They work on plain Float32Arrays, so every backend uses them (on `wasm` the tensors'
 * memory is read in place, see memory.ts, and copied into this module's own memory).
 *
 * Use: `const k = simdKernels()` (JavaScript twins of the same kernels where WebAssembly SIMD
 * is missing or `SEQREC_SIMD=0`); `const arena = k.arena(n1, n2, ...)` reserves
 * float arrays for one call and returns their offsets; `arena.view(i)` is the i-th array as a
 * Float32Array over the module's memory (valid until the next `arena()`).
 */
import * as tf from '@tensorflow/tfjs-core';
import { nativeAddon, OFFSET_KERNEL_NAMES, type NativeAddon } from './native.js';
import { KERNELS_WASM_BASE64 } from './simd/kernels.wasm.js';

// The project compiles without the DOM library, which is where TypeScript declares WebAssembly.
interface WasmMemory {
  readonly buffer: ArrayBuffer;
  grow(pages: number): number;
}
interface WasmInstance {
  readonly exports: Record<string, unknown>;
}
declare const WebAssembly: {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => WasmInstance;
};

interface KernelExports {
  memory: WasmMemory;
  /** Set on the JavaScript twins. */
  javascript?: boolean;
  /** Set on the native twins. */
  native?: boolean;
  __heap_base: { value: number };
  exp_inplace(x: number, n: number): void;
  exp_shift_rows(x: number, rows: number, cols: number, maxes: number, sums: number): void;
  scale_rows(x: number, rows: number, cols: number, scale: number): void;
  scale_rows_both(e: number, rows: number, cols: number, scale: number, g: number, gT: number): void;
  gru_forward_step(
    x: number,
    xStride: number,
    hp: number,
    bias: number,
    prev: number,
    mask: number,
    b: number,
    h: number,
    next: number,
    rs: number,
    zs: number,
    ns: number,
    hns: number,
    out: number,
    outStride: number,
  ): void;
  gru_backward_step(
    g: number,
    gStride: number,
    dNext: number,
    rs: number,
    zs: number,
    ns: number,
    hns: number,
    prev: number,
    mask: number,
    b: number,
    h: number,
    dx: number,
    dxStride: number,
    dhp: number,
    dPrev: number,
  ): void;
  add_inplace(a: number, b: number, n: number): void;
  batch_matmul(a: number, b: number, out: number, batch: number, m: number, k: number, n: number, ta: number, tb: number): void;
  column_sums(x: number, rows: number, cols: number, out: number): void;
}

/** Float arrays laid out in the module's memory for one kernel call (byte offsets). */
export class SimdArena {
  constructor(
    private readonly memory: WasmMemory,
    readonly offsets: number[],
    private readonly lengths: number[],
  ) {}

  /** Byte offset of element `index` of the i-th array (what the kernels take as a pointer). */
  at(i: number, index = 0): number {
    return this.offsets[i] + 4 * index;
  }

  /** The i-th array as a Float32Array over the module's memory. */
  view(i: number): Float32Array {
    return new Float32Array(this.memory.buffer, this.offsets[i], this.lengths[i]);
  }
}

export class SimdKernels {
  readonly fn: KernelExports;
  /** True for the JavaScript twins (no WebAssembly SIMD here, or SEQREC_SIMD=0). */
  readonly javascript: boolean;
  /** True for the native twins (native/seqrec_native.c, where `seqrec setup native` built it). */
  readonly native: boolean;
  private readonly heapBase: number;

  constructor(instance: WasmInstance) {
    this.fn = instance.exports as unknown as KernelExports;
    this.javascript = this.fn.javascript === true;
    this.native = this.fn.native === true;
    this.heapBase = (this.fn.__heap_base.value + 15) & ~15;
  }

  /** Counts `arena()` calls: an arena's arrays are intact while this has not moved on. */
  generation = 0;

  /** Reserves arrays of the given float counts (16-byte aligned), growing memory if needed. */
  arena(...lengths: number[]): SimdArena {
    this.generation++;
    const offsets: number[] = [];
    let end = this.heapBase;
    for (const n of lengths) {
      offsets.push(end);
      end += (n * 4 + 15) & ~15;
    }
    const memory = this.fn.memory;
    if (end > memory.buffer.byteLength) memory.grow(Math.ceil((end - memory.buffer.byteLength) / 65536));
    return new SimdArena(memory, offsets, lengths);
  }
}

/**
 * A tensor holding a copy of `view` (an arena array). The wasm backend copies what it is given
 * into its own memory; the others may keep the array itself, so they get a copy.
 */
export function tensorFromArena<R extends tf.Rank = tf.Rank>(view: Float32Array, shape: number[]): tf.Tensor<R> {
  const values = tf.getBackend() === 'wasm' ? view : view.slice();
  return tf.tensor(values, shape, 'float32') as unknown as tf.Tensor<R>;
}

let loaded: SimdKernels | undefined;

/**
 * The element-wise kernels: native (AVX2, OpenMP) where the addon is built, else WebAssembly
 * SIMD where the runtime has it, else (or with `SEQREC_SIMD=0`) their JavaScript twins below,
 * which compute the same thing one float at a time. Callers do not need to know which they got.
 */
export function simdKernels(): SimdKernels {
  loaded ??= process.env.SEQREC_SIMD === '0' ? createKernels('javascript') : (createKernels('native') ?? createKernels('simd') ?? createKernels('javascript'));
  return loaded;
}

/**
 * A fresh instance of the kernels: 'native' (null where the addon is not loaded), 'simd' (null
 * where the runtime rejects WebAssembly SIMD) or 'javascript'. Tests compare them; everything
 * else uses `simdKernels()`.
 */
export function createKernels(kind: 'native' | 'simd'): SimdKernels | null;
export function createKernels(kind: 'javascript'): SimdKernels;
export function createKernels(kind: 'native' | 'simd' | 'javascript'): SimdKernels | null {
  if (kind === 'javascript') return new SimdKernels({ exports: javascriptKernels() as unknown as Record<string, unknown> });
  if (kind === 'native') {
    const addon = nativeAddon();
    return addon ? new SimdKernels({ exports: nativeKernels(addon) as unknown as Record<string, unknown> }) : null;
  }
  try {
    return new SimdKernels(new WebAssembly.Instance(new WebAssembly.Module(Buffer.from(KERNELS_WASM_BASE64, 'base64')), {}));
  } catch {
    return null;
  }
}

/** A memory like a wasm module's (byte offsets, grows by 64 KiB pages) over a plain ArrayBuffer. */
function growableMemory(onGrow: (buffer: ArrayBuffer) => void): WasmMemory {
  let buffer = new ArrayBuffer(1 << 20);
  onGrow(buffer);
  return {
    get buffer() {
      return buffer;
    },
    grow(pages: number) {
      const old = buffer.byteLength / 65536;
      // At least doubling: arenas grow step by step while a model warms up, and each growth copies.
      const next = new ArrayBuffer(Math.max(buffer.byteLength + pages * 65536, 2 * buffer.byteLength));
      new Uint8Array(next).set(new Uint8Array(buffer));
      buffer = next;
      onGrow(buffer);
      return old;
    },
  };
}

/** The kernels of kernels.c compiled natively: the same calls, with the memory passed first. */
function nativeKernels(addon: NativeAddon): KernelExports {
  const memory = growableMemory(() => {});
  const fns: Record<string, unknown> = { memory, __heap_base: { value: 1024 }, native: true };
  for (const name of OFFSET_KERNEL_NAMES) {
    const fn = addon[name] as (memory: ArrayBuffer, ...args: number[]) => void;
    fns[name] = (...args: number[]) => fn(memory.buffer, ...args);
  }
  return fns as unknown as KernelExports;
}

/** The kernels of kernels.c in plain JavaScript over a growable memory (same byte offsets). */
function javascriptKernels(): KernelExports {
  let f = new Float32Array(0);
  const memory = growableMemory((buffer) => (f = new Float32Array(buffer)));
  const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));
  return {
    memory,
    __heap_base: { value: 1024 },
    javascript: true,
    exp_inplace(x, n) {
      for (let i = x / 4; i < x / 4 + n; i++) f[i] = Math.exp(f[i]);
    },
    exp_shift_rows(x, rows, cols, maxes, sums) {
      for (let r = 0; r < rows; r++) {
        const base = x / 4 + r * cols;
        let max = -Infinity;
        for (let c = 0; c < cols; c++) if (f[base + c] > max) max = f[base + c];
        let sum = 0;
        for (let c = 0; c < cols; c++) {
          const e = Math.exp(f[base + c] - max);
          f[base + c] = e;
          sum += e;
        }
        f[maxes / 4 + r] = max;
        f[sums / 4 + r] = sum;
      }
    },
    scale_rows(x, rows, cols, scale) {
      for (let r = 0; r < rows; r++) {
        const s = f[scale / 4 + r];
        const base = x / 4 + r * cols;
        for (let c = 0; c < cols; c++) f[base + c] *= s;
      }
    },
    scale_rows_both(e, rows, cols, scale, g, gT) {
      for (let r = 0; r < rows; r++) {
        const s = f[scale / 4 + r];
        for (let c = 0; c < cols; c++) {
          const v = f[e / 4 + r * cols + c] * s;
          f[g / 4 + r * cols + c] = v;
          f[gT / 4 + c * rows + r] = v;
        }
      }
    },
    gru_forward_step(x, xStride, hp, bias, prev, mask, b, h, next, rs, zs, ns, hns, out, outStride) {
      const [X, HP, BI, P, M, N, R, Z, NN, HN, O] = [x, hp, bias, prev, mask, next, rs, zs, ns, hns, out].map((o) => o / 4);
      for (let i = 0; i < b; i++) {
        const mt = f[M + i];
        for (let j = 0; j < h; j++) {
          const xi = X + i * xStride + j;
          const hpi = HP + i * 3 * h + j;
          const hn = f[hpi + 2 * h] + f[BI + 2 * h + j];
          const r = sigmoid(f[xi] + f[hpi] + f[BI + j]);
          const z = sigmoid(f[xi + h] + f[hpi + h] + f[BI + h + j]);
          const n = Math.tanh(f[xi + 2 * h] + r * hn);
          const k = i * h + j;
          const hPrev = f[P + k];
          const hNew = hPrev + mt * (n + z * (hPrev - n) - hPrev);
          f[N + k] = hNew;
          f[R + k] = r;
          f[Z + k] = z;
          f[NN + k] = n;
          f[HN + k] = hn;
          f[O + i * outStride + j] = hNew;
        }
      }
    },
    gru_backward_step(g, gStride, dNext, rs, zs, ns, hns, prev, mask, b, h, dx, dxStride, dhp, dPrev) {
      const [G, DN, R, Z, NN, HN, P, M, DX, DH, DP] = [g, dNext, rs, zs, ns, hns, prev, mask, dx, dhp, dPrev].map((o) => o / 4);
      for (let i = 0; i < b; i++) {
        const mt = f[M + i];
        for (let j = 0; j < h; j++) {
          const k = i * h + j;
          const dh = f[G + i * gStride + j] + f[DN + k];
          const r = f[R + k],
            z = f[Z + k],
            n = f[NN + k];
          const dCand = mt * dh;
          const dPreN = dCand * (1 - z) * (1 - n * n);
          const dPreZ = dCand * (f[P + k] - n) * z * (1 - z);
          const dPreR = dPreN * f[HN + k] * r * (1 - r);
          const xo = DX + i * dxStride + j;
          const ho = DH + i * 3 * h + j;
          f[xo] = dPreR;
          f[xo + h] = dPreZ;
          f[xo + 2 * h] = dPreN;
          f[ho] = dPreR;
          f[ho + h] = dPreZ;
          f[ho + 2 * h] = dPreN * r;
          f[DP + k] = (1 - mt) * dh + dCand * z;
        }
      }
    },
    batch_matmul(a, b2, out, batch, m, k, n, ta, tb) {
      for (let bi = 0; bi < batch; bi++) {
        const A = a / 4 + bi * m * k;
        const B = b2 / 4 + bi * k * n;
        const C = out / 4 + bi * m * n;
        for (let i = 0; i < m; i++) {
          for (let j = 0; j < n; j++) {
            let sum = 0;
            for (let q = 0; q < k; q++) sum += f[ta ? A + q * m + i : A + i * k + q] * f[tb ? B + j * k + q : B + q * n + j];
            f[C + i * n + j] = sum;
          }
        }
      }
    },
    add_inplace(a, b2, n) {
      for (let i = 0; i < n; i++) f[a / 4 + i] += f[b2 / 4 + i];
    },
    column_sums(x, rows, cols, out) {
      for (let j = 0; j < cols; j++) f[out / 4 + j] = 0;
      for (let r = 0; r < rows; r++) for (let j = 0; j < cols; j++) f[out / 4 + j] += f[x / 4 + r * cols + j];
    },
  };
}
