/**
 * How a study picks each trial's parameters: `random` (independent draws) or `tpe`, the
 * univariate Tree-structured Parzen Estimator of Bergstra et al. (NeurIPS 2011) as Optuna runs it
 * by default: after a few random trials, the finished ones are split into the best γ and the rest,
 * each parameter gets a Parzen density l(x) over the best and g(x) over the rest, and of 24 draws
 * from l the one with the highest l(x)/g(x) is tried. No package for Node does this with a seed,
 * so it is here, small and tested (test/unit/tune/samplers.test.ts).
 *
 * A draw depends only on the study's seed, the trial's number and the history it is given (the
 * study gives trial n the trials up to n − parallel, finished: src/tune/study.ts), so a seeded
 * study proposes the same trials on every machine and after a resume.
 */
import { Prng } from '../util/prng.js';
import type { ChoiceValue, Param, Params } from './space.js';

export const SAMPLERS = ['tpe', 'random'] as const;
export type SamplerName = (typeof SAMPLERS)[number];

/** A finished trial as a sampler sees it. */
export interface Observation {
  params: Params;
  /** The validation value; null for a failed trial. */
  value: number | null;
  status: 'completed' | 'pruned' | 'failed';
}

export interface SamplerOptions {
  seed: number;
  higherIsBetter: boolean;
  /** TPE: trials drawn at random before the model takes over. */
  startup: number;
}

export type Sampler = (trial: number, params: readonly Param[], history: readonly Observation[]) => Params;

export function createSampler(name: SamplerName, opts: SamplerOptions): Sampler {
  return name === 'random' ? randomSampler(opts.seed) : tpeSampler(opts);
}

export function randomSampler(seed: number): Sampler {
  return (trial, params) => {
    const rng = Prng.fromSeed(seed, `tune/random/${trial}`);
    const out: Params = {};
    for (const p of params) out[p.key] = drawUniform(p, rng);
    return out;
  };
}

/** A numeric parameter's internal scale: log for log ranges; ints span [low, high + 1) and are floored. */
interface Scale {
  lo: number;
  hi: number;
  to(v: number): number;
  from(x: number): number;
}

function scaleOf(p: Exclude<Param, { kind: 'choice' }>): Scale {
  const log = p.kind === 'log_uniform' || (p.kind === 'int' && p.log);
  const high = p.kind === 'int' ? p.high + 1 : p.high;
  const lo = log ? Math.log(p.low) : p.low;
  const hi = log ? Math.log(high) : high;
  const from = (x: number): number => {
    const v = log ? Math.exp(x) : x;
    if (p.kind === 'int') return Math.min(p.high, Math.max(p.low, Math.floor(v)));
    // Six significant digits: what best.yaml and the report show is the value the trial used.
    return Math.min(p.high, Math.max(p.low, Number(v.toPrecision(6))));
  };
  // An int's value v stands for [v, v + 1): its middle is where the model places it.
  const to = (v: number): number => {
    const u = p.kind === 'int' ? v + 0.5 : v;
    return log ? Math.log(u) : u;
  };
  return { lo, hi, to, from };
}

function drawUniform(p: Param, rng: Prng): ChoiceValue {
  if (p.kind === 'choice') return p.values[rng.int(p.values.length)];
  const s = scaleOf(p);
  return s.from(s.lo + (s.hi - s.lo) * rng.next());
}

/** γ(n) of Optuna's TPE: the best 10%, at least one and at most 25 trials. */
export function goodCount(n: number): number {
  return Math.min(25, Math.max(1, Math.ceil(0.1 * n)));
}

const CANDIDATES = 24;

export function tpeSampler(opts: SamplerOptions): Sampler {
  const random = randomSampler(opts.seed);
  return (trial, params, history) => {
    const scored = history.filter((h) => h.status === 'completed' && h.value !== null && Number.isFinite(h.value));
    if (scored.length < opts.startup) return random(trial, params, history);
    const sign = opts.higherIsBetter ? -1 : 1;
    // Stable: ties keep the trials' order, so the split is the same on every run.
    const ranked = scored.map((h, i) => ({ h, i })).sort((a, b) => sign * ((a.h.value as number) - (b.h.value as number)) || a.i - b.i);
    const n = goodCount(ranked.length);
    const good = ranked.slice(0, n).map((r) => r.h.params);
    // Pruned trials were stopped for looking worse than their peers: they inform "bad".
    const bad = [...ranked.slice(n).map((r) => r.h.params), ...history.filter((h) => h.status === 'pruned').map((h) => h.params)];
    const rng = Prng.fromSeed(opts.seed, `tune/tpe/${trial}`);
    const out: Params = {};
    for (const p of params) {
      const pick = (list: Params[]) => list.map((x) => x[p.key]).filter((v) => v !== undefined);
      out[p.key] = p.kind === 'choice' ? tpeChoice(p, pick(good), pick(bad), rng) : tpeNumber(p, pick(good) as number[], pick(bad) as number[], rng);
    }
    return out;
  };
}

function tpeChoice(p: Extract<Param, { kind: 'choice' }>, good: ChoiceValue[], bad: ChoiceValue[], rng: Prng): ChoiceValue {
  const k = p.values.length;
  // Each value's share among the trials, with one pseudo-trial spread evenly as the prior.
  const probs = (list: ChoiceValue[]) => p.values.map((v) => (list.filter((x) => x === v).length + 1 / k) / (list.length + 1));
  const l = probs(good);
  const g = probs(bad);
  let best = 0;
  let bestScore = -Infinity;
  for (let c = 0; c < CANDIDATES; c++) {
    let u = rng.next();
    let idx = 0;
    while (idx < k - 1 && u >= l[idx]) u -= l[idx++];
    const score = Math.log(l[idx]) - Math.log(g[idx]);
    if (score > bestScore) [best, bestScore] = [idx, score];
  }
  return p.values[best];
}

export interface Parzen {
  mus: number[];
  sigmas: number[];
  lo: number;
  hi: number;
}

/**
 * A Parzen estimator over [lo, hi]: one truncated normal per observation and one wide prior in the
 * middle, each observation's width the larger gap to its neighbours, clipped so that neither a
 * cluster collapses to a spike nor a lone point covers more than the range.
 */
export function parzen(points: readonly number[], lo: number, hi: number): Parzen {
  const range = hi - lo;
  const mus = [...points, (lo + hi) / 2];
  const order = mus.map((_, i) => i).sort((a, b) => mus[a] - mus[b] || a - b);
  const sigmas = new Array<number>(mus.length).fill(range);
  const minSigma = range / Math.min(100, 1 + mus.length);
  for (let r = 0; r < order.length; r++) {
    const i = order[r];
    if (i === mus.length - 1) continue;
    const left = r > 0 ? mus[i] - mus[order[r - 1]] : mus[i] - lo;
    const right = r < order.length - 1 ? mus[order[r + 1]] - mus[i] : hi - mus[i];
    sigmas[i] = Math.min(range, Math.max(minSigma, left, right));
  }
  return { mus, sigmas, lo, hi };
}

export function parzenLogPdf(pz: Parzen, x: number): number {
  let sum = 0;
  for (let i = 0; i < pz.mus.length; i++) {
    const s = pz.sigmas[i];
    const mass = normalCdf((pz.hi - pz.mus[i]) / s) - normalCdf((pz.lo - pz.mus[i]) / s);
    const z = (x - pz.mus[i]) / s;
    sum += Math.exp(-0.5 * z * z) / (s * Math.sqrt(2 * Math.PI) * Math.max(mass, 1e-12));
  }
  return Math.log(sum / pz.mus.length + 1e-300);
}

export function parzenSample(pz: Parzen, rng: Prng): number {
  const i = rng.int(pz.mus.length);
  for (let tries = 0; tries < 100; tries++) {
    const x = pz.mus[i] + pz.sigmas[i] * rng.normal();
    if (x >= pz.lo && x < pz.hi) return x;
  }
  return Math.min(pz.hi - (pz.hi - pz.lo) * 1e-9, Math.max(pz.lo, pz.mus[i]));
}

function tpeNumber(p: Exclude<Param, { kind: 'choice' }>, good: number[], bad: number[], rng: Prng): number {
  const s = scaleOf(p);
  const l = parzen(good.map(s.to), s.lo, s.hi);
  const g = parzen(bad.map(s.to), s.lo, s.hi);
  let best = l.mus[0];
  let bestScore = -Infinity;
  for (let c = 0; c < CANDIDATES; c++) {
    const x = parzenSample(l, rng);
    const score = parzenLogPdf(l, x) - parzenLogPdf(g, x);
    if (score > bestScore) [best, bestScore] = [x, score];
  }
  return s.from(best);
}

/** Φ(z) through erf (Abramowitz & Stegun 7.1.26, |error| < 1.5e-7). */
export function normalCdf(z: number): number {
  const x = Math.abs(z) / Math.SQRT2;
  const t = 1 / (1 + 0.3275911 * x);
  const poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))));
  const erf = 1 - poly * Math.exp(-x * x);
  return z >= 0 ? 0.5 * (1 + erf) : 0.5 * (1 - erf);
}
