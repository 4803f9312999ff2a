/**
 * Averages per-user metric values over the evaluated users in float64 (docs/evaluation.md#metrics): users with at
 * least one relevant item are evaluated, the others are skipped and counted by reason. Coverage is
 * computed over the union of all top-k lists, AUC over the users for which it is defined, and
 * rmse/mae over all rating rows (not per user).
 */
import { coverage, createCoverageSet, type CoverageSet } from './coverage.js';
import { f1AtK } from './f1.js';
import type { Hits } from './hits.js';
import { hrAtK } from './hr.js';
import { mapAtK } from './map.js';
import { mrrAtK } from './mrr.js';
import { ndcgAtK } from './ndcg.js';
import { precisionAtK } from './precision.js';
import { clipRating, type RatingRange } from './rating-range.js';
import { recallAtK } from './recall.js';
import type { MetricSpec, RankingMetric } from './registry.js';

export const SKIP_NO_RELEVANT = 'no_relevant';

/** One ranked list of one user. */
export interface UserRanking {
  /** hits[i] = 1 when rank i + 1 holds a relevant item; at least max(k) long unless the list is shorter. */
  hits: Hits;
  /** R: the number of relevant items this list was ranked for. */
  relevant: number;
  /** The ranked item indices (for coverage@k); omitted when coverage is not asked for. */
  items?: ArrayLike<number>;
  /** This list's AUC (auc.ts), when asked for; NaN when undefined. */
  auc?: number;
}

export interface EvalUsers {
  evaluated: number;
  skipped: number;
  skipped_by_reason: Record<string, number>;
}

export interface MetricAccumulator {
  /**
   * Adds one user. Several rankings (sampled and candidates protocols rank each relevant item
   * separately, with R = 1) are first averaged within the user, so every user weighs the same.
   * A user whose rankings all have R = 0 is skipped as `no_relevant`.
   */
  addUser(rankings: UserRanking | readonly UserRanking[]): void;
  skipUser(reason: string, count?: number): void;
  /** Adds rating rows for rmse/mae (predictions are clipped to the train rating range). */
  addRatings(predictions: ArrayLike<number>, targets: ArrayLike<number>): void;
  result(): { metrics: Record<string, number>; users: EvalUsers };
}

const RANKING_FNS: Record<RankingMetric, (hits: Hits, k: number, relevant: number) => number> = {
  precision: (h, k) => precisionAtK(h, k),
  recall: recallAtK,
  f1: f1AtK,
  ndcg: ndcgAtK,
  hr: (h, k) => hrAtK(h, k),
  mrr: (h, k) => mrrAtK(h, k),
  map: mapAtK,
};

/** A user's AUC: the mean over their lists that have one, null when none has. */
function meanAuc(lists: readonly UserRanking[]): number | null {
  let s = 0;
  let n = 0;
  for (const r of lists) {
    if (r.auc !== undefined && !Number.isNaN(r.auc)) {
      s += r.auc;
      n++;
    }
  }
  return n > 0 ? s / n : null;
}

/** Skipped users in total and by reason, reasons in alphabetical order. */
function skippedSummary(skipped: ReadonlyMap<string, number>): { skipped: number; skipped_by_reason: Record<string, number> } {
  let total = 0;
  const byReason: Record<string, number> = {};
  for (const [reason, n] of [...skipped].sort(([a], [b]) => a.localeCompare(b))) {
    byReason[reason] = n;
    total += n;
  }
  return { skipped: total, skipped_by_reason: byReason };
}

export function createMetricAccumulator(
  specs: readonly MetricSpec[],
  options: { vocabularyItems: number; ratingRange?: RatingRange },
): MetricAccumulator {
  const ranking = specs.filter((s) => s.kind === 'ranking');
  const sums = new Float64Array(ranking.length);
  const coverageSpecs = specs.filter((s) => s.kind === 'coverage');
  const coverageSets: CoverageSet[] = coverageSpecs.map(() => createCoverageSet(options.vocabularyItems));
  const wantAuc = specs.some((s) => s.kind === 'auc');
  const errorSpecs = specs.filter((s) => s.kind === 'error');
  let aucSum = 0;
  let aucUsers = 0;
  let evaluated = 0;
  const skipped = new Map<string, number>();
  let sqSum = 0;
  let absSum = 0;
  let ratingRows = 0;

  const skipUser = (reason: string, count = 1) => {
    skipped.set(reason, (skipped.get(reason) ?? 0) + count);
  };

  return {
    skipUser,
    addUser(input) {
      const lists = (Array.isArray(input) ? input : [input]) as readonly UserRanking[];
      const usable = lists.filter((r) => r.relevant > 0);
      if (usable.length === 0) {
        skipUser(SKIP_NO_RELEVANT);
        return;
      }
      evaluated++;
      for (let m = 0; m < ranking.length; m++) {
        const spec = ranking[m];
        let s = 0;
        for (const r of usable) s += RANKING_FNS[spec.name](r.hits, spec.k, r.relevant);
        sums[m] += s / usable.length;
      }
      for (let c = 0; c < coverageSpecs.length; c++) {
        for (const r of usable) {
          if (!r.items) throw new RangeError('coverage@k needs the ranked items of every list (UserRanking.items)');
          coverageSets[c].add(r.items, coverageSpecs[c].k);
        }
      }
      const auc = wantAuc ? meanAuc(usable) : null;
      if (auc !== null) {
        aucSum += auc;
        aucUsers++;
      }
    },
    addRatings(predictions, targets) {
      if (predictions.length !== targets.length) {
        throw new RangeError(`addRatings: ${predictions.length} predictions for ${targets.length} targets`);
      }
      if (errorSpecs.length > 0 && !options.ratingRange) {
        throw new RangeError('rmse/mae need the train rating range (ratingRange)');
      }
      const range = options.ratingRange ?? { min: -Infinity, max: Infinity };
      for (let j = 0; j < targets.length; j++) {
        const e = clipRating(predictions[j], range) - targets[j];
        sqSum += e * e;
        absSum += Math.abs(e);
      }
      ratingRows += targets.length;
    },
    result() {
      const metrics: Record<string, number> = {};
      for (const spec of specs) {
        switch (spec.kind) {
          case 'ranking':
            metrics[spec.key] = evaluated > 0 ? sums[ranking.indexOf(spec)] / evaluated : NaN;
            break;
          case 'coverage':
            metrics[spec.key] = coverage(coverageSets[coverageSpecs.indexOf(spec)].distinct, options.vocabularyItems);
            break;
          case 'auc':
            metrics.auc = aucUsers > 0 ? aucSum / aucUsers : NaN;
            break;
          case 'error':
            metrics[spec.key] =
              ratingRows === 0 ? NaN : spec.name === 'rmse' ? Math.sqrt(sqSum / ratingRows) : absSum / ratingRows;
            break;
        }
      }
      return { metrics, users: { evaluated, ...skippedSummary(skipped) } };
    },
  };
}
