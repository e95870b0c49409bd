/**
 * Model size against memory, checked from the config before any weight is allocated: a model
 * that cannot fit fails with an `invalid_config` error naming the field and the sizes, not
 * with `RangeError: Invalid typed array length` (or an out-of-memory crash) midway.
 *
 * The estimate counts the trainable parameters of the built-in models from their config
 * fields, and 12 bytes per parameter: the float32 weight and Adam's two float32 moments.
 * The limit is half the machine's memory (the rest is for activations, data, the best-weights
 * snapshot and the OS), and at most 4 GiB on the wasm backend (32-bit linear memory).
 */
import { constants as bufferConstants } from 'node:buffer';
import { totalmem } from 'node:os';
import * as tf from '@tensorflow/tfjs-core';
import { SeqrecError } from '../errors.js';

/** Largest `embeddingDim` a model accepts (published models use 32-512). */
export const MAX_EMBEDDING_DIM = 8192;

/** Bytes per trainable parameter while training: weight + Adam's first and second moments. */
export const TRAINING_BYTES_PER_PARAMETER = 12;

const WASM_MEMORY_BYTES = 4 * 2 ** 30;

export interface ModelSizePart {
  /** E.g. `item table 1350 x 64`. */
  what: string;
  /** The config field to lower. */
  field: string;
  parameters: number;
}

export interface ModelSizeEstimate {
  parameters: number;
  /** `parameters x TRAINING_BYTES_PER_PARAMETER`. */
  bytes: number;
  parts: ModelSizePart[];
}

/**
 * The fields every config has. The estimate also reads the optional fields of the built-in
 * models (hiddenDim, numLayers, numInterests, attentionDim, bilinearInitStd, reluLayer,
 * outputBias); absent ones mean the model has no such part.
 */
export interface SizedConfig {
  itemCount: number;
  embeddingDim: number;
  maxLen: number;
}

const num = (v: unknown): number | undefined => (typeof v === 'number' ? v : undefined);

/**
 * The parameter count of a model config, by part. Exact for GRU4Rec; for the other built-in
 * models it counts every weight matrix (biases of the small layers may be left out).
 */
export function estimateModelBytes(config: SizedConfig): ModelSizeEstimate {
  const c = config as SizedConfig & Record<string, unknown>;
  const d = c.embeddingDim;
  const parts: ModelSizePart[] = [];
  // The field more likely to be the mistake: a wide dim, or else a huge catalogue.
  // GRU4Rec's outputBias is one more table column.
  const columns = d + (c.outputBias === true ? 1 : 0);
  parts.push({ what: `item table ${c.itemCount} x ${columns}`, field: d > 256 ? 'embeddingDim' : 'itemCount', parameters: c.itemCount * columns });
  const h = num(c.hiddenDim);
  const layers = num(c.numLayers);
  const heads = num(c.numInterests) ?? 1;
  const a = num(c.attentionDim);
  if (h !== undefined && layers !== undefined) {
    // GRU layers: input and recurrent kernels and two biases per gate, then a projection.
    let n = 0;
    for (let l = 0; l < layers; l++) n += 3 * h * ((l === 0 ? d : h) + h + 2);
    if (h !== d) n += h * d;
    parts.push({ what: `GRU ${layers} x hiddenDim ${h}`, field: h === d ? 'embeddingDim' : 'hiddenDim', parameters: n });
  } else if (num(c.bilinearInitStd) !== undefined) {
    // ComiRec-DR: one [D, K·D] map per position.
    parts.push({
      what: `maps ${c.maxLen} x ${d} x ${heads} x ${d}`,
      field: 'embeddingDim',
      parameters: c.maxLen * d * heads * d + (c.reluLayer === true ? d * d + d : 0),
    });
  } else if (a !== undefined) {
    // ComiRec-SA: position embeddings and the two attention layers.
    parts.push({
      what: `attention ${d} x ${a} x ${heads}`,
      field: a === 4 * d ? 'embeddingDim' : 'attentionDim',
      parameters: c.maxLen * d + d * a + a + a * heads,
    });
  } else {
    // YouTubeDNN's dense layer, MIND's bilinear map and ReLU layer.
    parts.push({ what: `dense ${d} x ${d}`, field: 'embeddingDim', parameters: 2 * (d * d + d) });
  }
  const parameters = parts.reduce((s, p) => s + p.parameters, 0);
  return { parameters, bytes: parameters * TRAINING_BYTES_PER_PARAMETER, parts };
}

/** The memory a model may take while training, and where that number comes from. */
export function modelMemoryLimit(): { bytes: number; why: string } {
  const half = totalmem() / 2;
  // backendName is null until a backend is initialised; reading it does not initialise one.
  if (tf.engine().backendName === 'wasm' && WASM_MEMORY_BYTES < half) {
    return { bytes: WASM_MEMORY_BYTES, why: 'the wasm backend addresses at most 4 GiB' };
  }
  return { bytes: half, why: `half of this machine's ${gb(totalmem())} GB` };
}

function gb(bytes: number): string {
  return (bytes / 1e9).toFixed(1);
}

/** Throws `invalid_config` when the model of config `c` cannot be trained in memory. */
export function assertModelFits(c: SizedConfig, model: string): void {
  const estimate = estimateModelBytes(c);
  if (!Number.isFinite(estimate.bytes)) return; // a malformed field: the model's own checks name it
  const largest = estimate.parts.reduce((x, y) => (y.parameters > x.parameters ? y : x));
  const limit = modelMemoryLimit();
  const breakdown = estimate.parts.map((p) => `${p.what}: ${p.parameters.toExponential(2)}`).join(', ');
  if (estimate.bytes > limit.bytes) {
    throw new SeqrecError(
      'invalid_config',
      `${model}: the model needs about ${gb(estimate.bytes)} GB to train (${estimate.parameters.toExponential(2)} parameters; ${breakdown}; ` +
        `${TRAINING_BYTES_PER_PARAMETER} bytes each with Adam's moments), more than the ${gb(limit.bytes)} GB limit (${limit.why}). Lower ${largest.field}.`,
      { field: largest.field },
    );
  }
  // Reached only with a limit above ~50 GB: one typed array holds at most 2^32 values.
  if (largest.parameters > bufferConstants.MAX_LENGTH) {
    throw new SeqrecError(
      'invalid_config',
      `${model}: ${largest.what} has ${largest.parameters} values, more than the ${bufferConstants.MAX_LENGTH} one typed array can hold. Lower ${largest.field}.`,
      { field: largest.field },
    );
  }
}
