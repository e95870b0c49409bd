/**
 * A binary file of named typed arrays, for the bundle data that is too large for JSON (the
 * neighbour lists of ItemKNN and of the co-occurrence fallback, SessionKNN's sequences). The
 * bytes are the arrays one after another, little-endian, each starting at a multiple of 4; the
 * layout (name, dtype, length, byte offset) is stored in model.json, which also records the
 * file's size and SHA-256 like every other bundle file. Reading checks the layout against the
 * file (contiguous, in bounds, the total equal to the size) before any array is viewed.
 */
import { z } from 'zod';
import { bundleInvalid } from './file-schema.js';

export type TypedArray = Int32Array | Float32Array | Uint8Array;

const DTYPES = { int32: Int32Array, float32: Float32Array, uint8: Uint8Array } as const;
type DType = keyof typeof DTYPES;

/** Largest array: 2^31 elements (typed arrays and offsets stay in safe territory). */
const MAX_LENGTH = 2 ** 31;

export const ArrayEntrySchema = z.strictObject({
  name: z.string().regex(/^[a-z][A-Za-z0-9]{0,63}$/, 'expected an array name like offsets'),
  dtype: z.enum(['int32', 'float32', 'uint8']),
  length: z.number().int().min(0).max(MAX_LENGTH),
  /** Byte offset in the file. */
  offset: z
    .number()
    .int()
    .min(0)
    .max(2 ** 40),
});
export const ArrayLayoutSchema = z.array(ArrayEntrySchema).min(1).max(64);
export type ArrayLayout = z.infer<typeof ArrayLayoutSchema>;

function dtypeOf(a: TypedArray): DType {
  if (a instanceof Int32Array) return 'int32';
  if (a instanceof Float32Array) return 'float32';
  return 'uint8';
}

const padded = (n: number) => Math.ceil(n / 4) * 4;

/** The arrays as one buffer, and its layout. */
export function packArrays(arrays: Record<string, TypedArray>): { bytes: Uint8Array; layout: ArrayLayout } {
  const layout: ArrayLayout = [];
  let offset = 0;
  for (const [name, a] of Object.entries(arrays)) {
    layout.push({ name, dtype: dtypeOf(a), length: a.length, offset });
    offset += padded(a.byteLength);
  }
  const bytes = new Uint8Array(offset);
  Object.values(arrays).forEach((a, i) => bytes.set(new Uint8Array(a.buffer, a.byteOffset, a.byteLength), layout[i].offset));
  return { bytes, layout };
}

/**
 * The arrays of `bytes` as `layout` describes them (copies, aligned), after checking that the
 * layout is contiguous from 0 and covers the file exactly; errors name `file`.
 */
export function unpackArrays(bytes: Uint8Array, layout: ArrayLayout, file: string): Map<string, TypedArray> {
  const out = new Map<string, TypedArray>();
  let next = 0;
  for (const e of layout) {
    if (e.offset !== next) throw bundleInvalid(file, `array '${e.name}' starts at byte ${e.offset}, expected ${next} (arrays are stored contiguously)`);
    if (out.has(e.name)) throw bundleInvalid(file, `array '${e.name}' appears twice in the layout`);
    const Ctor = DTYPES[e.dtype];
    const size = e.length * Ctor.BYTES_PER_ELEMENT;
    if (e.offset + size > bytes.byteLength) throw bundleInvalid(file, `array '${e.name}' runs past the end of the file (${bytes.byteLength} bytes)`);
    // A fresh buffer (a Buffer's slice is a view into a shared pool, at any alignment).
    const copy = new Uint8Array(size);
    copy.set(bytes.subarray(e.offset, e.offset + size));
    out.set(e.name, new Ctor(copy.buffer, 0, e.length));
    next = e.offset + padded(size);
  }
  if (next !== bytes.byteLength) throw bundleInvalid(file, `the layout describes ${next} bytes but the file has ${bytes.byteLength}`);
  return out;
}

/** Array `name` of `arrays` with dtype `dtype`, else `bundle_invalid` naming the file. */
export function arrayOf<D extends DType>(arrays: Map<string, TypedArray>, name: string, dtype: D, file: string): InstanceType<(typeof DTYPES)[D]> {
  const a = arrays.get(name);
  if (!a) throw bundleInvalid(file, `has no array '${name}'`);
  if (!(a instanceof DTYPES[dtype])) throw bundleInvalid(file, `array '${name}' must be ${dtype}`);
  return a as InstanceType<(typeof DTYPES)[D]>;
}
