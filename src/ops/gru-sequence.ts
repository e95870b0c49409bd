/**
 * A whole GRU layer over a sequence as ONE differentiable op, with a hand-written backward
 * pass.
 *
 * Why: built from TF.js ops, a 20-step GRU is ~1,000 tiny kernels per training step (split,
 * sigmoid, mul, add, ... forward and backward), and on the wasm and cpu backends their
 * dispatch cost dominates the step. Here each time step costs one recurrent matmul on the
 * backend (fast XNNPACK on wasm) plus one fused element-wise kernel over [B, H] (WebAssembly
 * SIMD, src/backend/simd/kernels.c, gru_forward_step and gru_backward_step);
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
import { readFloats, tensorFilledBy } from '../backend/memory.js';
import { nativeAddon } from '../backend/native.js';
import { simdKernels, tensorFromArena } from '../backend/simd.js';

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
    const k = simdKernels();
    // With the addon the per-step matmuls run on the arena directly (seqrec's kernels are native then too).
    const addon = k.native ? nativeAddon() : null;
    const bh = b * h;
    // Mask and resets time-major ([L][B]) so each step reads one contiguous column.
    const m = readFloats(maskT);
    const maskTime = new Float32Array(l * b);
    for (let i = 0; i < b; i++) for (let t = 0; t < l; t++) maskTime[t * b + i] = m[i * l + t];
    const rho = hasReset ? readFloats(resetT!).slice() : null;
    // Forward arena: x, b_h, mask, h_{t-1} per step (slot L = final state), hp, r, z, n, hn, output.
    const fa = k.arena(b * l * h3, h3, l * b, (l + 1) * bh, b * h3, l * bh, l * bh, l * bh, l * bh, b * l * h);
    const [X, BIAS, MASK, PREV, HP, RS, ZS, NS, HNS, OUT] = fa.offsets.keys();
    fa.view(X).set(readFloats(xT));
    fa.view(BIAS).set(readFloats(bhT));
    fa.view(MASK).set(maskTime);
    const prevAll = fa.view(PREV);
    if (h0T) prevAll.set(readFloats(h0T));
    else prevAll.fill(0, 0, bh);
    for (let t = 0; t < l; t++) {
      const slot = prevAll.subarray(t * bh, (t + 1) * bh);
      // Session boundaries: the lane starts from a zero state at this step.
      if (rho) for (let i = 0; i < b; i++) if (rho[i * l + t] > 0) slot.fill(0, i * h, i * h + h);
      if (t === 0 && !h0T) {
        fa.view(HP).fill(0); // h_{-1} = 0: the recurrent product is 0
      } else if (addon) {
        // The same batch-invariant kernel tf.matMul reaches, without a tensor in and out per step.
        addon.rowwise_gemm_typed(b, h3, h, slot, readFloats(whT), fa.view(HP));
      } else {
        const prevT = tensorFromArena<tf.Rank.R2>(slot, [b, h]);
        const hpT = tf.matMul(prevT, whT);
        fa.view(HP).set(readFloats(hpT));
        tf.dispose([prevT, hpT]);
      }
      const s = t * bh; // this step's slot in the per-step arrays
      k.fn.gru_forward_step(
        fa.at(X, t * h3),
        l * h3,
        fa.at(HP),
        fa.at(BIAS),
        fa.at(PREV, s),
        fa.at(MASK, t * b),
        b,
        h,
        fa.at(PREV, s + bh),
        fa.at(RS, s),
        fa.at(ZS, s),
        fa.at(NS, s),
        fa.at(HNS, s),
        fa.at(OUT, t * h),
        l * h,
      );
    }
    const value = tensorFromArena<tf.Rank.R3>(fa.view(OUT), [b, l, h]);
    // Saved for the backward pass (the arena is reused by the next kernel call).
    const saved = [RS, ZS, NS, HNS].map((i) => fa.view(i).slice());
    const prevSaved = prevAll.slice(0, l * bh);

    const gradFunc = (dy: tf.Tensor) => {
      // Backward arena: dy, r, z, n, hn, h_{t-1}, mask, dx, dhp (all steps), dNext, dPrev, W_h term, db_h.
      const ba = k.arena(b * l * h, l * bh, l * bh, l * bh, l * bh, l * bh, l * b, b * l * h3, l * b * h3, bh, bh, bh, h3);
      const [G, BRS, BZS, BNS, BHNS, BPREV, BMASK, DX, DHP, DNEXT, DPREV, BACK, DBH] = ba.offsets.keys();
      ba.view(G).set(readFloats(dy));
      [BRS, BZS, BNS, BHNS].forEach((i, j) => ba.view(i).set(saved[j]));
      ba.view(BPREV).set(prevSaved);
      ba.view(BMASK).set(maskTime);
      ba.view(DNEXT).fill(0); // nothing reaches h_{L-1} from later steps
      // The two [B, H] gradient buffers swap roles every step.
      let [dNext, dPrev] = [DNEXT, DPREV];
      for (let t = l - 1; t >= 0; t--) {
        const s = t * bh;
        k.fn.gru_backward_step(
          ba.at(G, t * h),
          l * h,
          ba.at(dNext),
          ba.at(BRS, s),
          ba.at(BZS, s),
          ba.at(BNS, s),
          ba.at(BHNS, s),
          ba.at(BPREV, s),
          ba.at(BMASK, t * b),
          b,
          h,
          ba.at(DX, t * h3),
          l * h3,
          ba.at(DHP, t * b * h3),
          ba.at(dPrev),
        );
        if (t > 0 || h0T) {
          // dL/dh_{t-1} += dhp_t W_hᵀ (natively: sgemm accumulating into dPrev, beta 1)
          const dhp = ba.view(DHP).subarray(t * b * h3, (t + 1) * b * h3);
          if (addon) {
            addon.sgemm(0, 1, b, h, h3, 1, dhp, readFloats(whT), 1, ba.view(dPrev));
          } else {
            const dhpT = tensorFromArena<tf.Rank.R2>(dhp, [b, h3]);
            const back = tf.matMul(dhpT, whT, false, true);
            ba.view(BACK).set(readFloats(back));
            tf.dispose([dhpT, back]);
            k.fn.add_inplace(ba.at(dPrev), ba.at(BACK), bh);
          }
        }
        // A reset at step t cut h_{t-1} off: no gradient flows past it.
        if (rho) {
          const dp = ba.view(dPrev);
          for (let i = 0; i < b; i++) if (rho[i * l + t] > 0) dp.fill(0, i * h, i * h + h);
        }
        [dNext, dPrev] = [dPrev, dNext];
      }
      // dW_h = Σ_t h_{t-1}ᵀ dhp_t as one matmul over all steps; db_h = Σ rows of dhp.
      k.fn.column_sums(ba.at(DHP), l * b, h3, ba.at(DBH));
      const dWh = addon
        ? tensorFilledBy([h, h3], (out) => addon.sgemm(1, 0, h, h3, l * b, 1, ba.view(BPREV), ba.view(DHP), 0, out))
        : tf.tidy(() =>
            tf.matMul(tensorFromArena<tf.Rank.R2>(ba.view(BPREV), [l * b, h]), tensorFromArena<tf.Rank.R2>(ba.view(DHP), [l * b, h3]), true, false),
          );
      const grads: tf.Tensor[] = [tensorFromArena(ba.view(DX), [b, l, h3]), tf.zerosLike(maskT), dWh, tensorFromArena(ba.view(DBH), [h3])];
      if (hasInit) grads.push(tf.tensor2d(ba.view(dNext).slice(), [b, h])); // dL/dh_{-1}
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

/**
 * The last step of a [B, L, H] sequence of states, [B, H]: with right padding the state after
 * each row's last real item. One copy each way, where tf.slice of a middle axis runs a
 * JavaScript loop through a read of the whole tensor on wasm.
 */
export function lastStep(states: tf.Tensor3D): tf.Tensor2D {
  const [b, l, h] = states.shape;
  const op = tf.customGrad(((x: tf.Tensor3D) => {
    const value = tensorFilledBy<tf.Rank.R2>([b, h], (out) => {
      const v = readFloats(x);
      for (let i = 0; i < b; i++) out.set(v.subarray((i * l + l - 1) * h, (i * l + l) * h), i * h);
    });
    const gradFunc = (dy: tf.Tensor) =>
      tensorFilledBy<tf.Rank.R3>([b, l, h], (out) => {
        out.fill(0);
        const g = readFloats(dy);
        for (let i = 0; i < b; i++) out.set(g.subarray(i * h, (i + 1) * h), (i * l + l - 1) * h);
      });
    return { value, gradFunc };
  }) as unknown as Parameters<typeof tf.customGrad>[0]);
  return op(states) as tf.Tensor2D;
}
