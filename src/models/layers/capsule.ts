/**
 * Capsule parts shared by MIND and ComiRec-DR: squash, coupling coefficients and behaviour-to-interest
 * dynamic routing.
 *
 * Notation (per user): behaviours i = 1..L with embeddings e_i and mask m_i (1 = real item),
 * interests k = 1..K, predictions û_{k,i} (MIND: û_i = S e_i shared by every k; ComiRec-DR:
 * û_{k,i} = W_{i,k} e_i), routing logits b_{k,i}. One routing iteration is
 *
 *   c_{k,i} = m_i · exp(b_{k,i}) / Σ_{k'} exp(b_{k',i})        softmax over the K INTERESTS
 *   s_k     = Σ_i c_{k,i} û_{k,i}
 *   v_k     = squash(s_k)
 *   b_{k,i} ← b_{k,i} + û_{k,i} · v_k                            (not after the last iteration)
 *
 * Facts of the official implementation (THUDM/ComiRec src/model.py, CapsuleNetwork), followed
 * here and tested:
 * - the softmax runs over the interests for each behaviour (`softmax(capsule_weight, axis=1)`
 *   on [B, K, L]), as in capsule networks; padded behaviours are set to 0 AFTER the softmax, so
 *   they carry no weight in any capsule. Two popular PyTorch ports normalise over the
 *   behaviours instead, which is a different model.
 * - the logits never receive gradient, and every iteration but the last forms its capsules and
 *   logit updates from a stop-gradient copy of û; only the last iteration's s_k = Σ c û lets
 *   gradient reach the maps (and through them the item embeddings).
 * - squash uses an epsilon under the square root: s · |s|²/(1+|s|²) / sqrt(|s|² + 1e-9).
 */
import * as tf from '@tensorflow/tfjs-core';

/** The epsilon under the square root of squash, as in ComiRec's code. */
export const SQUASH_EPSILON = 1e-9;

/** Smallest |s|²/(1+|s|²) the sharpened squash raises to a power below 1. */
const SHARPEN_FLOOR = 1e-12;

/** Logit given to masked entries before a softmax, as in ComiRec (-2^32 + 1). */
export const MASKED_LOGIT = -(2 ** 32) + 1;

/**
 * Squash over the last axis:
 *
 *   squash_p(s) = (|s|² / (1 + |s|²))^p · s / sqrt(|s|² + ε)
 *
 * p = 1 (default) is the capsule squash of MIND and ComiRec; 0 < p < 1 is the "sharpened"
 * squash, which shrinks short capsules less (a remedy suggested for interests that collapse
 * onto each other). The result has norm < 1 and the direction of s; s = 0 maps to 0.
 */
export function squash(s: tf.Tensor, sharpenPower = 1): tf.Tensor {
  return tf.tidy(() => {
    const n2 = tf.sum(tf.square(s), -1, true);
    let gain = tf.div(n2, tf.add(n2, 1));
    // x^p with p < 1 has an infinite slope at 0, and empty capsules (s = 0: switched off, or
    // every coupling underflowed to 0) would turn it into NaN gradients; the floor keeps the
    // slope finite and changes no value that matters (the result is multiplied by s).
    if (sharpenPower !== 1) gain = tf.pow(tf.maximum(gain, SHARPEN_FLOOR), sharpenPower);
    return tf.mul(s, tf.div(gain, tf.sqrt(tf.add(n2, SQUASH_EPSILON))));
  });
}

/**
 * Coupling coefficients c [B, K, L] from logits b [B, K, L]: a softmax over the K interests
 * for each behaviour, then zero at padded behaviours (mask [B, L]). With `capsuleMask`
 * ([B, K], 1 = capsule in use), unused capsules are excluded from the softmax, so each real
 * behaviour's coefficients sum to 1 over the capsules in use.
 */
export function couplingCoefficients(logits: tf.Tensor3D, mask: tf.Tensor2D, capsuleMask?: tf.Tensor2D | null): tf.Tensor3D {
  return tf.tidy(() => {
    let b: tf.Tensor = logits;
    if (capsuleMask) {
      const off = tf.sub(1, tf.expandDims(capsuleMask, 2)); // [B, K, 1]
      b = tf.add(tf.mul(b, tf.expandDims(capsuleMask, 2)), tf.mul(off, MASKED_LOGIT));
    }
    // softmax over axis 1 (TF.js's softmax only takes the last axis).
    const shifted = tf.sub(b, shiftOverInterests(b));
    const e = tf.exp(shifted);
    const c = tf.div(e, tf.sum(e, 1, true));
    return tf.mul(c, tf.expandDims(mask, 1)) as tf.Tensor3D;
  });
}

/**
 * max over axis 1, as a constant: the shift only keeps exp from overflowing and the softmax
 * does not depend on it, so its exact gradient is zero. (TF.js's Max gradient would spend an
 * Equal over the whole [B, K, L] tensor to compute contributions that cancel.)
 */
function shiftOverInterests(b: tf.Tensor): tf.Tensor {
  const op = tf.customGrad(((x: tf.Tensor) => ({
    value: tf.max(x, 1, true),
    gradFunc: () => tf.zeros(x.shape),
  })) as unknown as Parameters<typeof tf.customGrad>[0]);
  return (op as unknown as (x: tf.Tensor) => tf.Tensor)(b);
}

export interface RoutingInput {
  /**
   * Predictions û: [B, L, D] when one map is shared by every interest (MIND), or [B, K, L, D]
   * with one prediction per interest (ComiRec-DR).
   */
  predictions: tf.Tensor3D | tf.Tensor4D;
  /** Initial routing logits b⁰ [B, K, L]. They never receive gradient. */
  logits: tf.Tensor3D;
  /** [B, L] 1 = real behaviour, 0 = padding. */
  mask: tf.Tensor2D;
  /** [B, K] 1 = capsule in use (MIND's dynamic interest count); default: all in use. */
  capsuleMask?: tf.Tensor2D | null;
}

export interface RoutingOptions {
  /** Routing iterations, >= 1 (MIND and ComiRec: 3). */
  iterations: number;
  /** Exponent p of the (sharpened) squash; 1 = the standard squash. */
  sharpenPower?: number;
}

export interface RoutingOutput {
  /** Interest capsules v [B, K, D]. */
  capsules: tf.Tensor3D;
  /** The coupling coefficients used in each iteration, [B, K, L] each (for inspection and tests). */
  coupling: tf.Tensor3D[];
}

/**
 * Behaviour-to-interest dynamic routing (see the module comment for the equations). Call
 * inside a tidy scope; every returned tensor is owned by it.
 */
export function dynamicRouting(input: RoutingInput, options: RoutingOptions): RoutingOutput {
  const { predictions, mask, capsuleMask } = input;
  const { iterations } = options;
  const p = options.sharpenPower ?? 1;
  const [batch, k, len] = input.logits.shape;
  const shared = predictions.rank === 3;
  const dim = predictions.shape[predictions.rank - 1];
  if (!Number.isInteger(iterations) || iterations < 1) throw new Error(`dynamicRouting: iterations must be an integer >= 1, got ${iterations}`);
  if (predictions.shape[0] !== batch || predictions.shape[predictions.rank - 2] !== len || (!shared && predictions.shape[1] !== k)) {
    throw new Error(`dynamicRouting: predictions [${predictions.shape}] do not match logits [${input.logits.shape}]`);
  }
  const u = predictions;
  // s_k = Σ_i c_{k,i} û_{k,i}. Shared: [B, K, L] x [B, L, D]. Per interest: B·K one-row
  // products [1, L] x [L, D] (batched matmuls, forward and backward, where a multiply and a
  // sum over [B, K, L, D] cost several passes over that tensor each way).
  const capsuleInputs = (c: tf.Tensor3D, src: tf.Tensor): tf.Tensor3D =>
    shared
      ? tf.matMul(c, src as tf.Tensor3D)
      : (tf.reshape(tf.matMul(tf.reshape(c, [batch * k, 1, len]), tf.reshape(src, [batch * k, len, dim])), [batch, k, dim]) as tf.Tensor3D);
  // Agreement û_{k,i} · v_k: [B, K, L].
  const agreement = (v: tf.Tensor3D, src: tf.Tensor): tf.Tensor3D =>
    shared
      ? tf.matMul(v, src as tf.Tensor3D, false, true)
      : (tf.reshape(tf.matMul(tf.reshape(src, [batch * k, len, dim]), tf.reshape(v, [batch * k, dim, 1])), [batch, k, len]) as tf.Tensor3D);
  // Every coupling is a constant for the gradient: the logits never receive gradient and the
  // iterations before the last see û through a stop-gradient (ComiRec's item_emb_hat_iter), so
  // c of every iteration depends on nothing trainable. They are computed inside one op with a
  // zero gradient, off the tape: the backward pass then runs only through the last iteration's
  // s = Σ c û and squash, not through every iteration's ops multiplied by zero at the end.
  const couplingsOp = tf.customGrad(((uIn: tf.Tensor, b0: tf.Tensor3D) => {
    const cs: tf.Tensor3D[] = [];
    let b = b0;
    for (let it = 0; it < iterations; it++) {
      const c = couplingCoefficients(b, mask, capsuleMask);
      cs.push(c);
      if (it < iterations - 1) b = tf.add(b, agreement(squash(capsuleInputs(c, uIn), p) as tf.Tensor3D, uIn)) as tf.Tensor3D;
    }
    return { value: tf.stack(cs), gradFunc: () => [tf.zerosLike(uIn), tf.zerosLike(b0)] };
  }) as unknown as Parameters<typeof tf.customGrad>[0]);
  const coupling = tf.unstack((couplingsOp as unknown as (a: tf.Tensor, b: tf.Tensor) => tf.Tensor)(u, input.logits)) as tf.Tensor3D[];
  const capsules = squash(capsuleInputs(coupling[iterations - 1], u), p) as tf.Tensor3D;
  return { capsules, coupling };
}
