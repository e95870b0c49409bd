/**
 * Saving and reading a faiss index with its JSON sidecar (`<path>.json`: format tag, version,
 * shape, metric, factory, search parameters, sizes and checksums). The sidecar is checked
 * against a strict zod schema, like a bundle's model.json, so a damaged, hand-edited or
 * foreign file is refused with a `bundle_invalid` error naming the field.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { z } from 'zod';
import { SeqrecError } from '../../errors.js';
import { schemaError } from '../../util/schema.js';
import { readHeader, type FaissHeader } from '../faiss-format.js';

export const FAISS_SIDECAR_FORMAT = 'seqrec-faiss-index';
export const FAISS_SIDECAR_VERSION = 1;

const count = (min: number) => z.number().int().min(min).max(Number.MAX_SAFE_INTEGER);
const searchParam = count(1).nullable();
const sha256Hex = z.string().regex(/^[0-9a-f]{64}$/, 'expected a SHA-256 in hex');

export const FaissSidecarSchema = z.strictObject({
  format: z.literal(FAISS_SIDECAR_FORMAT),
  version: z.literal(FAISS_SIDECAR_VERSION),
  dim: count(1),
  numItems: count(1),
  metric: z.enum(['ip', 'cosine']),
  factory: z.string().min(1).max(1000),
  nprobe: searchParam,
  efSearch: searchParam,
  indexBytes: count(1),
  indexSha256: sha256Hex,
  /** sha256 of the item matrix (float32 little-endian, as passed to the constructor). */
  itemsSha256: sha256Hex,
  faissNode: z.string().max(100).nullable(),
});

/** The sidecar written next to a saved index (`<path>.json`). */
export type FaissIndexSidecar = z.infer<typeof FaissSidecarSchema>;

export function sha256(a: ArrayBufferView): string {
  return createHash('sha256')
    .update(new Uint8Array(a.buffer, a.byteOffset, a.byteLength))
    .digest('hex');
}

/** Writes the index bytes to `path` (atomically: temp file + rename), then the sidecar. */
export function writeSavedIndex(path: string, index: Buffer, sidecar: FaissIndexSidecar): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, index);
  renameSync(tmp, path);
  writeFileSync(`${path}.json`, JSON.stringify(FaissSidecarSchema.parse(sidecar), null, 2) + '\n');
}

function invalid(path: string, message: string): SeqrecError {
  return new SeqrecError('bundle_invalid', `${path}: ${message}`, { file: path });
}

/** Reads and checks `path`'s sidecar (`path.json`). */
export function readSidecar(path: string): FaissIndexSidecar {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw invalid(
      path,
      `cannot read the index sidecar (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); FaissRetriever.save writes it next to the index`,
    );
  }
  let s: unknown;
  try {
    s = JSON.parse(text);
  } catch (err) {
    throw invalid(path, `the index sidecar is not valid JSON (${(err as Error).message})`);
  }
  // Format and version first: a foreign or newer file gets a message saying so, not a field list.
  const o = (s !== null && typeof s === 'object' ? s : {}) as { format?: unknown; version?: unknown };
  if (o.format !== FAISS_SIDECAR_FORMAT)
    throw invalid(path, `not a seqrec faiss index sidecar (format ${JSON.stringify(o.format)}, expected '${FAISS_SIDECAR_FORMAT}')`);
  if (o.version !== FAISS_SIDECAR_VERSION)
    throw invalid(path, `sidecar version ${String(o.version)} is not supported (this seqrec reads version ${FAISS_SIDECAR_VERSION})`);
  const parsed = FaissSidecarSchema.safeParse(s);
  if (!parsed.success)
    throw schemaError(FaissSidecarSchema, parsed.error.issues[0], { where: `${path}: the index sidecar`, code: 'bundle_invalid', details: { file: path } });
  return parsed.data;
}

/**
 * The index bytes at `path`, checked against `sidecar` (size, SHA-256, and the header's
 * dim, count and metric), with the parsed header.
 */
export function readSavedIndex(path: string, sidecar: FaissIndexSidecar): { bytes: Buffer; header: FaissHeader } {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (err) {
    throw invalid(path, `cannot read the faiss index (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  if (bytes.length !== sidecar.indexBytes || sha256(bytes) !== sidecar.indexSha256) {
    throw invalid(
      path,
      `the faiss index file is corrupt or was replaced (${bytes.length} bytes, sidecar ${path}.json expects ${sidecar.indexBytes} bytes with sha256 ${sidecar.indexSha256.slice(0, 12)}...)`,
    );
  }
  const header = readHeader(bytes);
  if (header.dim !== sidecar.dim || header.ntotal !== sidecar.numItems - 1 || header.metricType !== 0) {
    throw invalid(
      path,
      `the faiss index (d=${header.dim}, ntotal=${header.ntotal}, metric=${header.metricType}) does not match its sidecar (dim ${sidecar.dim}, ${sidecar.numItems - 1} items, inner product)`,
    );
  }
  return { bytes, header };
}
