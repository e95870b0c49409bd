/**
 * A whole GRU layer over a sequence as ONE differentiable op, with a hand-written backward
 * pass.
 *
 * Why: built from TF.js ops, a 20-step GRU is ~1,000 tiny kernels per training step (split,
 * sigmoid, mul, add, ... forward and backward), and on the wasm and cpu backends their
 * dispatch cost dominates the step. Here each time step costs one recurrent matmul on the
 * backend (fast XNNPACK on wasm) plus a fused element-wise pass in JavaScript over [B, H];
 * the backward pass is the same plus one matmul for dW_h over all steps at once.
 *
 * Equations (PyTorch / cuDNN layout, "reset after"), with xProj_t = x_t W_i + b_i precomputed
 * for all steps by the caller, and hp_t = h_{t-1} W_h + b_h:
 *   r = σ(xr + hr),  z = σ(xz + hz),  n = tanh(xn + r ⊙ hn),  h' = (1 − z) ⊙ n + z ⊙ h_{t-1}
 *   h_t = h_{t-1} + m_t (h' − h_{t-1})          (padded steps carry the state unchanged)
 * Gate columns are ordered r | z | n in xProj, W_h and b_h.
 *
 * Session-parallel training (GRU4Rec's mini-batches) adds two optional inputs: an initial
 * state h_{-1} (default 0) carried over from the previous mini-batch, and a per-step reset mask
 * ρ [B, L]: where ρ_bt = 1 the row's state is zeroed BEFORE step t (a new session starts in
 * that lane), i.e. h_{t-1} is replaced by (1 − ρ_t) ⊙ h_{t-1} everywhere above. The gradient
 * reaches the initial state through the same recurrence (callers that truncate backprop pass
 * a constant state and ignore it).
 */
import * as tf from '@tensorflow/tfjs-core';
import { readFloats } from '../../backend/memory.js';

/**
 * Runs the GRU over all steps. `xProj` [B, L, 3H], `mask` [B, L] (1 = real item), `wh`
 * [H, 3H], `bh` [3H]. Returns every step's state, [B, L, H]; with right padding the state at
 * step L−1 is the state after the last real item.
 */
export interface GRUSequenceOptions {
  /** [B, H] state before step 0 (default zeros). */
  initialState?: tf.Tensor2D;
  /** [B, L] 1 = zero the row's state before step t (session boundary), 0 = carry it. */
  reset?: tf.Tensor2D;
}

export function gruSequence(xProj: tf.Tensor3D, mask: tf.Tensor2D, wh: tf.Tensor2D, bh: tf.Tensor1D, options: GRUSequenceOptions = {}): tf.Tensor3D {
  const [b, l, h3] = xProj.shape;
  const h = h3 / 3;
  const hasInit = options.initialState !== undefined;
  const hasReset = options.reset !== undefined;
  if (hasInit && (options.initialState!.shape[0] !== b || options.initialState!.shape[1] !== h)) {
    throw new Error(`gruSequence: initialState has shape [${options.initialState!.shape}], expected [${b}, ${h}]`);
  }
  if (hasReset && (options.reset!.shape[0] !== b || options.reset!.shape[1] !== l)) {
    throw new Error(`gruSequence: reset has shape [${options.reset!.shape}], expected [${b}, ${l}]`);
  }
  const op = tf.customGrad(((xT: tf.Tensor3D, maskT: tf.Tensor2D, whT: tf.Tensor2D, bhT: tf.Tensor1D, ...extra: tf.Tensor2D[]) => {
    const h0T = hasInit ? extra[0] : undefined;
    const resetT = hasReset ? extra[hasInit ? 1 : 0] : undefined;
    // Copies: TF.js ops run below, which may invalidate zero-copy views.
    const x = readFloats(xT).slice();
    const m = readFloats(maskT).slice();
    const bias = readFloats(bhT).slice();
    const h0 = hasInit ? readFloats(h0T!).slice() : null;
    const rho = hasReset ? readFloats(resetT!).slice() : null;
    const bh = b * h;
    // Saved for the backward pass, time-major [L][B*H]: gates and the recurrent n-part.
    const rs = new Float32Array(l * bh);
    const zs = new Float32Array(l * bh);
    const ns = new Float32Array(l * bh);
    const hns = new Float32Array(l * bh);
    const states = new Float32Array(b * l * h); // batch-major output [B, L, H]
    const prevAll = new Float32Array(l * bh); // h_{t-1} per step, time-major
    let prev = h0 ?? new Float32Array(bh);
    for (let t = 0; t < l; t++) {
      if (rho) {
        // Session boundaries: the lane starts from a zero state at this step.
        for (let i = 0; i < b; i++) if (rho[i * l + t] > 0) prev.fill(0, i * h, i * h + h);
      }
      prevAll.set(prev, t * bh);
      let hp: Float32Array;
      if (t === 0 && !h0) {
        hp = new Float32Array(b * h3); // h_{-1} = 0: the recurrent product is 0
      } else {
        const prevT = tf.tensor2d(prev, [b, h]);
        const hpT = tf.matMul(prevT, whT);
        hp = readFloats(hpT).slice();
        tf.dispose([prevT, hpT]);
      }
      const next = new Float32Array(bh);
      const o = t * bh;
      for (let i = 0; i < b; i++) {
        const mt = m[i * l + t];
        const xRow = (i * l + t) * h3;
        const hRow = i * h3;
        for (let j = 0; j < h; j++) {
          const hr = hp[hRow + j] + bias[j];
          const hz = hp[hRow + h + j] + bias[h + j];
          const hn = hp[hRow + 2 * h + j] + bias[2 * h + j];
          const r = 1 / (1 + Math.exp(-(x[xRow + j] + hr)));
          const z = 1 / (1 + Math.exp(-(x[xRow + h + j] + hz)));
          const n = Math.tanh(x[xRow + 2 * h + j] + r * hn);
          const k = i * h + j;
          const hPrev = prev[k];
          const cand = n + z * (hPrev - n);
          const hNew = hPrev + mt * (cand - hPrev);
          next[k] = hNew;
          rs[o + k] = r;
          zs[o + k] = z;
          ns[o + k] = n;
          hns[o + k] = hn;
          states[(i * l + t) * h + j] = hNew;
        }
      }
      prev = next;
    }
    const value = tf.tensor3d(states, [b, l, h]);

    const gradFunc = (dy: tf.Tensor) => {
      const g = readFloats(dy).slice();
      const dx = new Float32Array(b * l * h3);
      const dhpAll = new Float32Array(l * b * h3); // time-major [L*B, 3H]
      let dNext = new Float32Array(bh); // gradient reaching h_t from later steps
      for (let t = l - 1; t >= 0; t--) {
        const o = t * bh;
        const dPrev = new Float32Array(bh);
        const dhpRowBase = t * b * h3;
        for (let i = 0; i < b; i++) {
          const mt = m[i * l + t];
          const xRow = (i * l + t) * h3;
          const dRow = dhpRowBase + i * h3;
          for (let j = 0; j < h; j++) {
            const k = i * h + j;
            const dh = g[(i * l + t) * h + j] + dNext[k];
            const r = rs[o + k];
            const z = zs[o + k];
            const n = ns[o + k];
            const hPrev = prevAll[o + k];
            const dCand = mt * dh;
            const dn = dCand * (1 - z);
            const dz = dCand * (hPrev - n);
            const dPreN = dn * (1 - n * n);
            const dr = dPreN * hns[o + k];
            const dPreZ = dz * z * (1 - z);
            const dPreR = dr * r * (1 - r);
            dx[xRow + j] = dPreR;
            dx[xRow + h + j] = dPreZ;
            dx[xRow + 2 * h + j] = dPreN;
            dhpAll[dRow + j] = dPreR;
            dhpAll[dRow + h + j] = dPreZ;
            dhpAll[dRow + 2 * h + j] = dPreN * r;
            dPrev[k] = (1 - mt) * dh + dCand * z;
          }
        }
        if (t > 0 || h0) {
          // dL/dh_{t-1} += dhp_t W_hᵀ
          const dhpT = tf.tensor2d(dhpAll.subarray(dhpRowBase, dhpRowBase + b * h3), [b, h3]);
          const back = tf.matMul(dhpT, whT, false, true);
          const backData = readFloats(back);
          for (let k = 0; k < bh; k++) dPrev[k] += backData[k];
          tf.dispose([dhpT, back]);
        }
        // A reset at step t cut h_{t-1} off: no gradient flows past it.
        if (rho) for (let i = 0; i < b; i++) if (rho[i * l + t] > 0) dPrev.fill(0, i * h, i * h + h);
        dNext = dPrev;
      }
      // dW_h = Σ_t h_{t-1}ᵀ dhp_t as one matmul over all steps; db_h = Σ rows of dhp.
      const prevMat = tf.tensor2d(prevAll, [l * b, h]);
      const dhpMat = tf.tensor2d(dhpAll, [l * b, h3]);
      const dWh = tf.matMul(prevMat, dhpMat, true, false);
      const dbh = new Float32Array(h3);
      for (let row = 0; row < l * b; row++) {
        const base = row * h3;
        for (let j = 0; j < h3; j++) dbh[j] += dhpAll[base + j];
      }
      tf.dispose([prevMat, dhpMat]);
      const grads: tf.Tensor[] = [tf.tensor3d(dx, [b, l, h3]), tf.zerosLike(maskT), dWh, tf.tensor1d(dbh)];
      if (hasInit) grads.push(tf.tensor2d(dNext, [b, h])); // dL/dh_{-1}
      if (hasReset) grads.push(tf.zerosLike(resetT!));
      return grads;
    };
    return { value, gradFunc };
  }) as unknown as Parameters<typeof tf.customGrad>[0]);
  const inputs: tf.Tensor[] = [xProj, mask, wh, bh];
  if (hasInit) inputs.push(options.initialState!);
  if (hasReset) inputs.push(options.reset!);
  return (op as unknown as (...t: tf.Tensor[]) => tf.Tensor)(...inputs) as tf.Tensor3D;
}
