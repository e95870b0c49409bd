/**
 * The optimizer state a checkpoint or bundle may carry, for warm starts that continue Adam
 * where it stopped (src/train/warm-start.ts). Two files of the version, both digested in
 * model.json `files` like every other file:
 *
 *   optimizer.json  {format: 'seqrec-optimizer', version: 1, optimizer: 'adam', itemGradients,
 *                    learningRate, beta1, beta2, epsilon, step, accBeta1, accBeta2, itemRows,
 *                    rowWise: null | {weight, step},
 *                    moments: [{weight, slot: 'm' | 'v', shape, offset}]}
 *   optimizer.bin   every moment as little-endian float32, concatenated in `moments` order
 *
 * `step` is Adam's t (the dense optimizer's iterations); accBeta1/accBeta2 are its float32
 * products beta^(t+1), stored so a continued run has the same bits as an uninterrupted one.
 * `rowWise` names the item table when it is trained by row-wise Adam (itemGradients
 * 'sparse'), whose moments are then the table's, with its own step count. Weights are named as
 * in model.json. Both files are optional: a model saved without them loads as before.
 */
import { join } from 'node:path';
import { z } from 'zod';
import { digestOf, readRegular, writeDurable, type FileDigest } from './atomic-dir.js';
import { bundleInvalid, checkSchema, parseJsonFile } from './file-schema.js';

export const OPTIMIZER_FORMAT = 'seqrec-optimizer';
export const OPTIMIZER_VERSION = 1;
export const OPTIMIZER_FILES = { header: 'optimizer.json', data: 'optimizer.bin' } as const;

/** The moments of one weight: first (m) and second (v), in the weight's shape. */
export interface WeightMoments {
  /** The weight's name in model.json. */
  weight: string;
  shape: number[];
  m: Float32Array;
  v: Float32Array;
}

/** Adam's state over a model's weights (see the module comment). */
export interface OptimizerState {
  optimizer: 'adam';
  itemGradients: 'dense' | 'sparse';
  learningRate: number;
  beta1: number;
  beta2: number;
  epsilon: number;
  /** Steps taken (Adam's t). */
  step: number;
  /** beta1^(step+1), beta2^(step+1) as the float32 products the dense optimizer carries. */
  accBeta1: number;
  accBeta2: number;
  /** Item rows of the model the state was taken from (padding included). */
  itemRows: number;
  /** The item table trained by row-wise Adam, and that optimizer's steps; null when dense. */
  rowWise: { weight: string; step: number } | null;
  moments: WeightMoments[];
}

const MAX_VALUES = 2 ** 32;
const int = (lo: number, hi: number) => z.number().int().min(lo).max(hi);
const unit = z.number().min(0).max(1);

const HeaderSchema = z.strictObject({
  format: z.literal(OPTIMIZER_FORMAT),
  version: z.literal(OPTIMIZER_VERSION),
  optimizer: z.literal('adam'),
  itemGradients: z.enum(['dense', 'sparse']),
  learningRate: z.number().positive().max(1e6),
  beta1: unit,
  beta2: unit,
  epsilon: z.number().min(0).max(1),
  step: int(0, 2 ** 53),
  accBeta1: unit,
  accBeta2: unit,
  itemRows: int(2, 2 ** 26),
  rowWise: z.strictObject({ weight: z.string().max(200), step: int(0, 2 ** 53) }).nullable(),
  moments: z
    .array(
      z.strictObject({
        weight: z.string().regex(/^[A-Za-z0-9_][A-Za-z0-9_/.-]{0,199}$/, 'expected a weight name like gru/kernel'),
        slot: z.enum(['m', 'v']),
        shape: z.array(int(1, 2 ** 27)).max(8),
        offset: int(0, MAX_VALUES),
      }),
    )
    .max(20_000),
});

const product = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

/** Writes optimizer.json and optimizer.bin into `dir` and returns their digests. */
export async function writeOptimizerFiles(state: OptimizerState, dir: string): Promise<Record<string, FileDigest>> {
  const entries: z.infer<typeof HeaderSchema>['moments'] = [];
  let offset = 0;
  for (const w of state.moments) {
    for (const slot of ['m', 'v'] as const) {
      entries.push({ weight: w.weight, slot, shape: w.shape.slice(), offset });
      offset += product(w.shape);
    }
  }
  const all = new Float32Array(offset);
  state.moments.forEach((w, i) => {
    all.set(w.m, entries[2 * i].offset);
    all.set(w.v, entries[2 * i + 1].offset);
  });
  const { moments: _, ...rest } = state;
  const header = { format: OPTIMIZER_FORMAT, version: OPTIMIZER_VERSION, ...rest, moments: entries };
  checkSchema(HeaderSchema, header, OPTIMIZER_FILES.header); // never write what would not load
  const data = new Uint8Array(all.buffer);
  const text = Buffer.from(JSON.stringify(header));
  await writeDurable(join(dir, OPTIMIZER_FILES.data), data);
  await writeDurable(join(dir, OPTIMIZER_FILES.header), text);
  return { [OPTIMIZER_FILES.data]: digestOf(data), [OPTIMIZER_FILES.header]: digestOf(text) };
}

function verify(name: string, bytes: Buffer, expected: FileDigest): void {
  const got = digestOf(bytes);
  if (got.bytes !== expected.bytes || got.sha256 !== expected.sha256) {
    throw bundleInvalid(name, 'contents do not match model.json: the file is corrupt or from another model');
  }
}

/**
 * The optimizer state of a loaded model's version, or null when it was saved without one.
 * Both files must be listed (and match their digests); the header is checked strictly, the
 * moments must tile optimizer.bin in order, each weight once with m before v, and hold only
 * finite values (v >= 0).
 */
export async function readOptimizerState(loaded: { dir: string; files: Record<string, FileDigest> }): Promise<OptimizerState | null> {
  const { header: H, data: D } = OPTIMIZER_FILES;
  const hd = loaded.files[H];
  const dd = loaded.files[D];
  if (!hd && !dd) return null;
  if (!hd || !dd) throw bundleInvalid(hd ? D : H, `missing from model.json files, but ${hd ? H : D} is listed: the optimizer state is incomplete`);
  const headerBytes = await readRegular(loaded.dir, H, 64 * 2 ** 20);
  if (!headerBytes) throw bundleInvalid(H, 'missing, but model.json lists it');
  verify(H, headerBytes, hd);
  const json = parseJsonFile(headerBytes, H) as { format?: unknown; version?: unknown } | null;
  // "Another format or a newer seqrec" in words, before the schema's field-by-field check.
  if (json && typeof json === 'object' && json.format === OPTIMIZER_FORMAT && json.version !== OPTIMIZER_VERSION) {
    throw bundleInvalid(H, `version ${String(json.version)} is not supported (this seqrec reads version ${OPTIMIZER_VERSION})`, 'version');
  }
  const header = checkSchema(HeaderSchema, json, H);
  let next = 0;
  header.moments.forEach((e, i) => {
    if (e.offset !== next)
      throw bundleInvalid(H, `moments[${i}].offset is ${e.offset}, expected ${next} (stored contiguously, in order)`, `moments[${i}].offset`);
    next += product(e.shape);
    const pair = header.moments[i % 2 === 0 ? i + 1 : i - 1] as (typeof header.moments)[number] | undefined;
    const want = i % 2 === 0 ? 'm' : 'v';
    if (e.slot !== want || !pair || pair.weight !== e.weight || pair.shape.join(',') !== e.shape.join(',')) {
      throw bundleInvalid(H, `moments[${i}]: expected the ${want} of a weight, in pairs (m then v) of the same weight and shape`, `moments[${i}]`);
    }
  });
  const weights = header.moments.filter((_, i) => i % 2 === 0).map((e) => e.weight);
  if (new Set(weights).size !== weights.length) throw bundleInvalid(H, 'a weight has moments twice', 'moments');
  if (header.rowWise && !weights.includes(header.rowWise.weight))
    throw bundleInvalid(H, `rowWise.weight '${header.rowWise.weight}' has no moments`, 'rowWise.weight');
  if (dd.bytes !== next * 4) throw bundleInvalid(D, `${dd.bytes} bytes, but optimizer.json describes ${next} float32 values (${next * 4} bytes)`);
  const bytes = await readRegular(loaded.dir, D);
  if (!bytes) throw bundleInvalid(D, 'missing, but model.json lists it');
  verify(D, bytes, dd);
  const floats = new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
  const moments: WeightMoments[] = [];
  for (let i = 0; i < header.moments.length; i += 2) {
    const { weight, shape, offset } = header.moments[i];
    const n = product(shape);
    const m = floats.subarray(offset, offset + n);
    const v = floats.subarray(header.moments[i + 1].offset, header.moments[i + 1].offset + n);
    for (let j = 0; j < n; j++) {
      if (!Number.isFinite(m[j]) || !(v[j] >= 0) || v[j] === Infinity) throw bundleInvalid(D, `the moments of '${weight}' hold a non-finite or negative value`);
    }
    moments.push({ weight, shape: shape.slice(), m, v });
  }
  const { format: _f, version: _v, moments: _m, ...rest } = header;
  return { ...rest, moments };
}
