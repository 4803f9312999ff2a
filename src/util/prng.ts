/**
 * Seeded pseudo-random streams. Nothing in data/, train/ or eval/ may use Math.random: every
 * random choice (shuffles, negatives, initialisers, dropout seeds) comes from a stream derived
 * from the run seed and a stream name, so one stream's consumption never shifts another's.
 *
 * Generator: sfc32 (Chris Doty-Humphrey's Small Fast Counting generator, PractRand-clean to
 * 2^64 bytes), seeded through splitmix32 of the hashed (seed, name) pair. Its whole state is four
 * uint32 words, which trainer_state.json saves and restores for exact resume.
 */

export type PrngState = readonly [number, number, number, number];

function splitmix32(x: number): () => number {
  let s = x >>> 0;
  return () => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  };
}

/** FNV-1a over the stream name, mixed with the seed, so streams with different names are independent. */
function hashSeed(seed: number, name: string): number {
  let h = 0x811c9dc5 ^ (seed >>> 0);
  for (let i = 0; i < name.length; i++) {
    h ^= name.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  // Fold in the high bits of seeds above 2^32 so 2^32+1 and 1 differ.
  h ^= Math.floor(seed / 0x100000000) >>> 0;
  return h >>> 0;
}

export class Prng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  private constructor(state: PrngState) {
    [this.a, this.b, this.c, this.d] = state;
  }

  static fromSeed(seed: number, stream = ''): Prng {
    const next = splitmix32(hashSeed(seed, stream));
    const rng = new Prng([next(), next(), next(), next()]);
    // Discard the first outputs: sfc32 needs a few rounds to decorrelate from its seed words.
    for (let i = 0; i < 12; i++) rng.nextUint32();
    return rng;
  }

  static fromState(state: PrngState): Prng {
    return new Prng(state);
  }

  state(): PrngState {
    return [this.a, this.b, this.c, this.d];
  }

  nextUint32(): number {
    const t = (((this.a + this.b) >>> 0) + this.d) >>> 0;
    this.d = (this.d + 1) >>> 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) >>> 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) >>> 0;
    return t;
  }

  /**
   * Fills `out` with the next out.length outputs of nextUint32 (the same sequence), keeping the
   * state in locals: in a hot loop, one call per draw boxes its uint32 results as heap numbers.
   */
  fillUint32(out: Uint32Array): void {
    let a = this.a;
    let b = this.b;
    let c = this.c;
    let d = this.d;
    for (let i = 0; i < out.length; i++) {
      const t = (((a + b) >>> 0) + d) >>> 0;
      d = (d + 1) >>> 0;
      a = b ^ (b >>> 9);
      b = (c + (c << 3)) >>> 0;
      c = (c << 21) | (c >>> 11);
      c = (c + t) >>> 0;
      out[i] = t;
    }
    this.a = a;
    this.b = b;
    this.c = c;
    this.d = d;
  }

  /** Uniform in [0, 1) with 32 bits of resolution. */
  next(): number {
    return this.nextUint32() / 4294967296;
  }

  /** Uniform integer in [0, n), without modulo bias (Lemire's multiply-shift with rejection). */
  int(n: number): number {
    if (!(n > 0) || n > 0x100000000) throw new RangeError(`Prng.int: n must be in (0, 2^32]; got ${n}`);
    if (n === 0x100000000) return this.nextUint32();
    const threshold = (0x100000000 - n) % n;
    for (;;) {
      const x = this.nextUint32();
      const m = x * n;
      const lo = m % 0x100000000;
      if (lo >= threshold) return Math.floor(m / 0x100000000);
    }
  }

  /** Standard normal via Box–Muller (one of the pair is discarded to keep the state simple to save). */
  normal(): number {
    let u = 0;
    while (u === 0) u = this.next();
    const v = this.next();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }

  /** A fresh nonzero 31-bit seed for TF.js ops: their `seed: 0` means "unseeded" (docs/engines.md#tfjs-behaviour-the-code-relies-on). */
  tfSeed(): number {
    return (this.nextUint32() % 0x7ffffffe) + 1;
  }

  /** In-place Fisher–Yates shuffle. */
  shuffle<T extends { length: number; [i: number]: unknown }>(array: T): T {
    for (let i = array.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const tmp = array[i];
      array[i] = array[j];
      array[j] = tmp;
    }
    return array;
  }

  /** A permutation of 0..n-1 as an Int32Array. */
  permutation(n: number): Int32Array {
    const p = new Int32Array(n);
    for (let i = 0; i < n; i++) p[i] = i;
    return this.shuffle(p);
  }
}
