/**
 * Pruning: stopping a trial whose validation curve is already behind its peers', at an epoch end.
 * `median` is Optuna's MedianPruner (prune when the best value so far is worse than the median of
 * the earlier trials' best values at the same epoch); `asha` is successive halving as ASHA runs it
 * (Li et al., MLSys 2020): at rung epochs min·η^k a trial goes on only if it is in the top 1/η of
 * the trials that reached that rung. Peers are finished trials only (the study gives trial n those
 * up to n − parallel), so a decision does not depend on which trial happened to run faster.
 */
export const PRUNERS = ['median', 'asha', 'none'] as const;
export type PrunerName = (typeof PRUNERS)[number];

export interface PrunerOptions {
  higherIsBetter: boolean;
  /** median: finished trials needed at an epoch before it prunes there. */
  startupTrials: number;
  /** median: epochs every trial runs before it may be pruned. */
  warmupEpochs: number;
  /** asha: the first rung's epoch. */
  minEpochs: number;
  /** asha: the reduction factor η. */
  eta: number;
}

export const DEFAULT_PRUNER: Omit<PrunerOptions, 'higherIsBetter'> = { startupTrials: 4, warmupEpochs: 2, minEpochs: 1, eta: 3 };

export interface Verdict {
  prune: boolean;
  /** Why, for trials.jsonl and the log (empty when it goes on). */
  reason: string;
}

/** `curve`: this trial's validation value by epoch so far; `peers`: finished trials' curves. */
export type Pruner = (curve: readonly number[], peers: readonly (readonly number[])[]) => Verdict;

const GO: Verdict = { prune: false, reason: '' };

export function createPruner(name: PrunerName, opts: PrunerOptions): Pruner {
  if (name === 'none') return () => GO;
  return name === 'median' ? medianPruner(opts) : ashaPruner(opts);
}

/** The best value of the first `epochs` epochs (NaN when none was measured). */
export function bestSoFar(curve: readonly number[], epochs: number, higherIsBetter: boolean): number {
  let best = NaN;
  for (const v of curve.slice(0, epochs)) {
    if (!Number.isFinite(v)) continue;
    if (Number.isNaN(best) || (higherIsBetter ? v > best : v < best)) best = v;
  }
  return best;
}

const fmt = (v: number): string => Number(v.toPrecision(5)).toString();

function medianPruner(opts: PrunerOptions): Pruner {
  return (curve, peers) => {
    const e = curve.length;
    if (e <= opts.warmupEpochs) return GO;
    const mine = bestSoFar(curve, e, opts.higherIsBetter);
    const theirs = peers
      .filter((c) => c.length >= e)
      .map((c) => bestSoFar(c, e, opts.higherIsBetter))
      .filter(Number.isFinite)
      .sort((a, b) => a - b);
    if (theirs.length < opts.startupTrials || !Number.isFinite(mine)) return GO;
    const mid = theirs.length >> 1;
    const median = theirs.length % 2 === 1 ? theirs[mid] : (theirs[mid - 1] + theirs[mid]) / 2;
    const worse = opts.higherIsBetter ? mine < median : mine > median;
    return worse ? { prune: true, reason: `median rule at epoch ${e}: best so far ${fmt(mine)} is worse than the median ${fmt(median)} of ${theirs.length} earlier trials` } : GO;
  };
}

function ashaPruner(opts: PrunerOptions): Pruner {
  return (curve, peers) => {
    const e = curve.length;
    const rung = Math.log(e / opts.minEpochs) / Math.log(opts.eta);
    // Only at rung epochs min·η^k.
    if (e < opts.minEpochs || Math.abs(rung - Math.round(rung)) > 1e-9) return GO;
    const mine = bestSoFar(curve, e, opts.higherIsBetter);
    const theirs = peers
      .filter((c) => c.length >= e)
      .map((c) => bestSoFar(c, e, opts.higherIsBetter))
      .filter(Number.isFinite);
    if (!Number.isFinite(mine) || theirs.length + 1 < opts.eta) return GO;
    const better = theirs.filter((v) => (opts.higherIsBetter ? v > mine : v < mine)).length;
    const keep = Math.max(1, Math.floor((theirs.length + 1) / opts.eta));
    return better >= keep
      ? { prune: true, reason: `successive halving at rung epoch ${e}: ${better} of ${theirs.length} earlier trials were better there; only the top ${keep} go on` }
      : GO;
  };
}
