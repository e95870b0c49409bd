/**
 * Seeded pseudo-random numbers. Every random choice in seqrec (splits, sampling, weight
 * initialisation, synthetic data) draws from a `Random`, so one seed reproduces a run.
 *
 * The generator is mulberry32: 32-bit state, fast, and good enough for shuffling and
 * sampling (not for cryptography).
 */
/** Native twin of `Random.fillBernoulli`'s loop: writes `out`, returns the stream's next state. */
export type BernoulliKernel = (out: Float32Array, state: number, limit: number, value: number) => number;

export class Random {
  private state: number;

  constructor(seed = 42) {
    if (!Number.isFinite(seed)) throw new Error(`Random: seed must be a finite number, got ${seed}`);
    // Mix the seed so that small consecutive seeds give unrelated streams.
    this.state = (Math.floor(seed) ^ 0x9e3779b9) >>> 0;
    this.nextUint32();
  }

  /** A uniformly distributed unsigned 32-bit integer. */
  nextUint32(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }

  /** A float in [0, 1). */
  next(): number {
    return this.nextUint32() / 4294967296;
  }

  /**
   * Fills `out` with `value` where a draw is below p and 0 elsewhere: one `next()` per element
   * in order, so the result is what a loop over `next() < p` gives. `kernel` (the native
   * addon's bernoulli_fill) runs the same stream; the loop below is its inlined JavaScript twin.
   */
  fillBernoulli(out: Float32Array, p: number, value: number, kernel?: BernoulliKernel): void {
    const limit = p * 4294967296; // next() < p  <=>  nextUint32() < p·2³², exactly in doubles
    if (kernel) {
      this.state = kernel(out, this.state, limit, value);
      return;
    }
    let s = this.state;
    for (let i = 0; i < out.length; i++) {
      s = (s + 0x6d2b79f5) >>> 0;
      let t = Math.imul(s ^ (s >>> 15), s | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      out[i] = (t ^ (t >>> 14)) >>> 0 < limit ? value : 0;
    }
    this.state = s;
  }

  /** An integer in [0, n). */
  int(n: number): number {
    if (!(n > 0)) throw new Error(`Random.int: n must be positive, got ${n}`);
    return Math.floor(this.next() * n);
  }

  /** Fills `out` with `offset + int(n)` draws, in order: the stream `int(n)` gives, without a call per draw. */
  fillInts(out: Int32Array, n: number, offset = 0): void {
    if (!(n > 0)) throw new Error(`Random.fillInts: n must be positive, got ${n}`);
    let s = this.state;
    for (let i = 0; i < out.length; i++) {
      s = (s + 0x6d2b79f5) >>> 0;
      let t = Math.imul(s ^ (s >>> 15), s | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      out[i] = offset + Math.floor((((t ^ (t >>> 14)) >>> 0) / 4294967296) * n);
    }
    this.state = s;
  }

  /** An integer in [lo, hi) . */
  range(lo: number, hi: number): number {
    return lo + this.int(hi - lo);
  }

  /** A standard normal draw (Box-Muller). */
  normal(): number {
    let u = 0;
    while (u === 0) u = this.next();
    const v = this.next();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }

  /** Shuffles an array in place (Fisher-Yates) and returns it. */
  shuffle<T extends { length: number; [i: number]: unknown }>(a: T): T {
    for (let i = a.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const tmp = a[i];
      a[i] = a[j];
      a[j] = tmp;
    }
    return a;
  }

  /** A new generator whose stream is derived from this one (for independent sub-streams). */
  fork(): Random {
    return new Random(this.nextUint32());
  }
}
