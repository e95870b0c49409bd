/**
 * Reading and patching search-time fields of a serialised faiss index.
 *
 * faiss-node 0.5.1 exposes no ParameterSpace and no setters: `nprobe` (IVF), `efSearch` and
 * `efConstruction` (HNSW) cannot be set through its API. They are, however, plain fields of
 * faiss's serialisation format, which `toBuffer()` / `Index.fromBuffer()` do expose. This
 * module finds them in the buffer (checking every structural field on the way, so a format it
 * does not know is an error, never a silent corruption) and rewrites them.
 *
 * Layout (faiss/impl/index_write.cpp, identical in faiss 1.7.3 and 1.7.4, little-endian):
 *   fourcc[4] | d:i32 | ntotal:i64 | dummy:i64 (1<<20) | dummy:i64 (1<<20) | is_trained:u8 |
 *   metric_type:i32 | (metric_arg:f32 if metric_type > 1)
 *   IVF ("Iw.."):   ... header | nlist:u64 | nprobe:u64 | quantizer index (fourcc "I...") ...
 *   HNSW ("IHN."):  ... header | assign_probas:vec<f64> | cum_nneighbor_per_level:vec<i32> |
 *                   levels:vec<i32> | offsets:vec<u64> | neighbors:vec<i32> | entry_point:i32 |
 *                   max_level:i32 | efConstruction:i32 | efSearch:i32 | upper_beam:i32 |
 *                   storage index (fourcc "Ix..")
 *   where vec<T> is a u64 element count followed by the elements.
 * Only indexes whose top level is IVF or HNSW can be patched; wrappers such as
 * IndexPreTransform ("PCA32,IVF256,Flat") or IndexRefine are reported as unsupported.
 */
import { SeqrecError } from '../errors.js';

const HEADER_DUMMY = 1n << 20n;

export interface FaissHeader {
  fourcc: string;
  dim: number;
  ntotal: number;
  isTrained: boolean;
  metricType: number;
  /** Offset of the first byte after the header. */
  end: number;
}

export type FaissIndexKind = 'ivf' | 'hnsw' | 'flat' | 'other';

export interface IvfParams {
  nlist: number;
  nprobe: number;
  /** Offset of the nprobe field. */
  nprobeAt: number;
}

export interface HnswParams {
  efConstruction: number;
  efSearch: number;
  /** Offset of the efConstruction field (efSearch follows at +4). */
  efConstructionAt: number;
}

function formatError(message: string): SeqrecError {
  return new SeqrecError('bundle_invalid', `unexpected faiss index serialisation: ${message}`);
}

function isFourcc(buf: Uint8Array, at: number): boolean {
  if (at + 4 > buf.length || buf[at] !== 0x49 /* 'I' */) return false;
  for (let i = at; i < at + 4; i++) if (buf[i] < 0x20 || buf[i] > 0x7e) return false;
  return true;
}

function view(buf: Uint8Array): DataView {
  return new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
}

function need(buf: Uint8Array, at: number, bytes: number, what: string): void {
  if (at + bytes > buf.length) throw formatError(`truncated while reading ${what} at byte ${at} (length ${buf.length})`);
}

/** Parses the common index header. */
export function readHeader(buf: Uint8Array): FaissHeader {
  need(buf, 0, 37, 'the index header');
  if (!isFourcc(buf, 0)) throw formatError('no index fourcc at byte 0');
  const v = view(buf);
  const fourcc = String.fromCharCode(buf[0], buf[1], buf[2], buf[3]);
  const dim = v.getInt32(4, true);
  const ntotal = v.getBigInt64(8, true);
  if (v.getBigInt64(16, true) !== HEADER_DUMMY || v.getBigInt64(24, true) !== HEADER_DUMMY) {
    throw formatError(`header of ${fourcc} does not have faiss's marker fields`);
  }
  const trained = buf[32];
  const metricType = v.getInt32(33, true);
  if (dim < 1 || ntotal < 0n || trained > 1 || metricType < 0 || metricType > 100) {
    throw formatError(`implausible header (${fourcc}, d=${dim}, ntotal=${ntotal}, metric=${metricType})`);
  }
  return { fourcc, dim, ntotal: Number(ntotal), isTrained: trained === 1, metricType, end: metricType > 1 ? 41 : 37 };
}

export function indexKind(fourcc: string): FaissIndexKind {
  if (fourcc.startsWith('Iw')) return 'ivf';
  if (fourcc.startsWith('IHN')) return 'hnsw';
  if (fourcc === 'IxFI' || fourcc === 'IxF2' || fourcc === 'IxFl') return 'flat';
  return 'other';
}

/** nlist and nprobe of a serialised IVF index. */
export function readIvfParams(buf: Uint8Array): IvfParams {
  const h = readHeader(buf);
  if (indexKind(h.fourcc) !== 'ivf') throw formatError(`${h.fourcc} is not an IVF index`);
  need(buf, h.end, 20, 'nlist/nprobe');
  const v = view(buf);
  const nlist = v.getBigUint64(h.end, true);
  const nprobe = v.getBigUint64(h.end + 8, true);
  if (nlist < 1n || nlist > 1n << 40n || nprobe < 1n || nprobe > 1n << 40n || !isFourcc(buf, h.end + 16)) {
    throw formatError(`IVF fields do not look like nlist/nprobe followed by a quantizer (nlist=${nlist}, nprobe=${nprobe})`);
  }
  return { nlist: Number(nlist), nprobe: Number(nprobe), nprobeAt: h.end + 8 };
}

/** efConstruction and efSearch of a serialised HNSW index. */
export function readHnswParams(buf: Uint8Array): HnswParams {
  const h = readHeader(buf);
  if (indexKind(h.fourcc) !== 'hnsw') throw formatError(`${h.fourcc} is not an HNSW index`);
  const v = view(buf);
  let at = h.end;
  for (const [what, size] of [
    ['assign_probas', 8],
    ['cum_nneighbor_per_level', 4],
    ['levels', 4],
    ['offsets', 8],
    ['neighbors', 4],
  ] as const) {
    need(buf, at, 8, what);
    const n = v.getBigUint64(at, true);
    if (n > BigInt(buf.length)) throw formatError(`HNSW ${what} claims ${n} elements in a ${buf.length}-byte buffer`);
    at += 8;
    need(buf, at, Number(n) * size, what);
    at += Number(n) * size;
  }
  need(buf, at, 24, 'HNSW scalars');
  const efConstruction = v.getInt32(at + 8, true);
  const efSearch = v.getInt32(at + 12, true);
  if (efConstruction < 1 || efSearch < 1 || !isFourcc(buf, at + 20)) {
    throw formatError(`HNSW fields do not look like efConstruction/efSearch followed by a storage index (${efConstruction}, ${efSearch})`);
  }
  return { efConstruction, efSearch, efConstructionAt: at + 8 };
}

/** A copy of `buf` with the IVF nprobe set. */
export function withNprobe(buf: Uint8Array, nprobe: number): Uint8Array {
  const p = readIvfParams(buf);
  const out = Uint8Array.from(buf);
  view(out).setBigUint64(p.nprobeAt, BigInt(nprobe), true);
  return out;
}

/** A copy of `buf` with the HNSW efConstruction and/or efSearch set. */
export function withHnswParams(buf: Uint8Array, params: { efConstruction?: number; efSearch?: number }): Uint8Array {
  const p = readHnswParams(buf);
  const out = Uint8Array.from(buf);
  const v = view(out);
  if (params.efConstruction !== undefined) v.setInt32(p.efConstructionAt, params.efConstruction, true);
  if (params.efSearch !== undefined) v.setInt32(p.efConstructionAt + 4, params.efSearch, true);
  return out;
}
