/**
 * Transformer parts for SASRec, composed of TF.js ops (their gradients are TF.js's own):
 * layer normalisation, causal multi-head self-attention without an output projection, and
 * the point-wise feed-forward network. Call inside a tidy scope.
 */
import * as tf from '@tensorflow/tfjs-core';
import { MASKED_LOGIT } from './capsule.js';
import { tensorFilledBy } from '../../backend/memory.js';

/** SASRec's LayerNorm epsilon (the original TF code's 1e-8). */
export const LAYER_NORM_EPSILON = 1e-8;

export interface LayerNormWeights {
  gamma: tf.Tensor1D;
  beta: tf.Tensor1D;
}

/** LayerNorm over the last axis: (x − mean) / sqrt(var + ε) · γ + β (biased variance, as TF and PyTorch). */
export function layerNorm(x: tf.Tensor, w: LayerNormWeights, epsilon = LAYER_NORM_EPSILON): tf.Tensor {
  const centred = tf.sub(x, tf.mean(x, -1, true));
  const variance = tf.mean(tf.square(centred), -1, true);
  return tf.add(tf.mul(tf.mul(centred, tf.rsqrt(tf.add(variance, epsilon))), w.gamma), w.beta);
}

/** Dense layer on [R, in] rows. */
export function dense(x: tf.Tensor2D, kernel: tf.Tensor2D, bias: tf.Tensor1D): tf.Tensor2D {
  return tf.add(tf.matMul(x, kernel), bias) as tf.Tensor2D;
}

export interface AttentionWeights {
  wq: tf.Tensor2D;
  bq: tf.Tensor1D;
  wk: tf.Tensor2D;
  bk: tf.Tensor1D;
  wv: tf.Tensor2D;
  bv: tf.Tensor1D;
}

/**
 * Additive attention mask for right-padded windows, broadcastable to [B, h, L, L]:
 * 0 where query i may see key j (j ≤ i and key j is real), MASKED_LOGIT elsewhere. Without
 * padding it is the causal [1, 1, L, L] pattern only (one small tensor instead of B·L²).
 * `lengths[b]` real items sit at the start of row b.
 */
export function attentionBias(lengths: Int32Array, l: number): tf.Tensor4D {
  const full = lengths.every((n) => n === l);
  const rows = full ? 1 : lengths.length;
  return tensorFilledBy<tf.Rank.R4>([rows, 1, l, l], (bias) => {
    for (let b = 0; b < rows; b++) {
      const real = full ? l : lengths[b];
      for (let i = 0; i < l; i++) {
        const base = (b * l + i) * l;
        // Keys after the query (future) or at padded slots are hidden.
        const hidden = Math.min(i + 1, real);
        bias.fill(0, base, base + hidden);
        bias.fill(MASKED_LOGIT, base + hidden, base + l);
      }
    }
  });
}

/**
 * Scaled dot-product self-attention, SASRec's form: Q = q Wq + bq from the normalised stream,
 * K = x Wk + bk and V = x Wv + bv from the raw stream, `heads` heads splitting D, logits
 * scaled by 1/sqrt(D/heads), `bias` added (attentionBias), softmax over keys, dropout on the
 * weights (`dropWeights`), no output projection. q, x: [B, L, D] -> [B, L, D].
 */
export function selfAttention(
  q: tf.Tensor3D,
  x: tf.Tensor3D,
  w: AttentionWeights,
  heads: number,
  bias: tf.Tensor4D,
  dropWeights: ((weights: tf.Tensor) => tf.Tensor) | null,
): tf.Tensor3D {
  const [b, l, d] = q.shape;
  const dh = d / heads;
  const rowsQ = tf.reshape(q, [b * l, d]) as tf.Tensor2D;
  const rowsX = tf.reshape(x, [b * l, d]) as tf.Tensor2D;
  // [B·L, D] -> [B·h, L, dh]; with one head a reshape only (no transpose copies).
  const split = (t: tf.Tensor2D): tf.Tensor3D =>
    heads === 1
      ? (tf.reshape(t, [b, l, d]) as tf.Tensor3D)
      : (tf.reshape(tf.transpose(tf.reshape(t, [b, l, heads, dh]), [0, 2, 1, 3]), [b * heads, l, dh]) as tf.Tensor3D);
  const queries = split(dense(rowsQ, w.wq, w.bq));
  const keys = split(dense(rowsX, w.wk, w.bk));
  const values = split(dense(rowsX, w.wv, w.bv));
  const logits = tf.add(tf.reshape(tf.mul(tf.matMul(queries, keys, false, true), 1 / Math.sqrt(dh)), [b, heads, l, l]), bias);
  let weights: tf.Tensor = tf.reshape(tf.softmax(logits), [b * heads, l, l]);
  if (dropWeights) weights = dropWeights(weights);
  const out = tf.matMul(weights as tf.Tensor3D, values) as tf.Tensor3D; // [B·h, L, dh]
  if (heads === 1) return out;
  return tf.reshape(tf.transpose(tf.reshape(out, [b, heads, l, dh]), [0, 2, 1, 3]), [b, l, d]) as tf.Tensor3D;
}

export interface FeedForwardWeights {
  w1: tf.Tensor2D;
  b1: tf.Tensor1D;
  w2: tf.Tensor2D;
  b2: tf.Tensor1D;
}

/** Point-wise FFN on rows [R, D]: dense, ReLU, dropout, dense, dropout (the original's two 1x1 convolutions). */
export function feedForward(y: tf.Tensor2D, w: FeedForwardWeights, drop: ((t: tf.Tensor) => tf.Tensor) | null): tf.Tensor2D {
  let h: tf.Tensor = tf.relu(dense(y, w.w1, w.b1));
  if (drop) h = drop(h);
  let out: tf.Tensor = dense(h as tf.Tensor2D, w.w2, w.b2);
  if (drop) out = drop(out);
  return out as tf.Tensor2D;
}
