/**
 * The latent "world" behind `rec synth`: categories, items and users with factor vectors, and the
 * per-user session generator. Everything is drawn from named Prng streams so a seed fixes every
 * byte of the output.
 *
 * Generative model (planted structure a factorisation model can recover, a popularity model cannot):
 *   - categories k have centroids c_k ∈ R^d (d = 8) with |c_k| ≈ 1 and a Zipf-like size weight;
 *   - item i in category k has v_i = c_k + ε_i and a popularity weight pop_i = rank_i^(-ZIPF_S);
 *   - user u has one to three favourite categories and u = Σ w_j c_{f_j} + η_u;
 *   - a session picks a category with P(k | u) ∝ size_k · exp(u·c_k), then views items with
 *     P(i | u, k) ∝ pop_i^ALPHA · exp(BETA · u·v_i) (with probability EXPLORE an item by global
 *     popularity instead); each view may become a click → cart → buy, each stage with a logistic
 *     probability rising in the affinity u·v_i, so buys carry the strongest personal signal.
 * Large categories are sampled by sampling-importance-resampling (a pool of proposals drawn by
 * popularity, resampled by exp(BETA · u·v_i); the pool is ~6× the user's expected views there, at
 * most SIR_POOL), so the cost per user follows the user's rows, not the catalogue size.
 * Constants were tuned so a 16-factor BPR-MF beats popularity clearly on the bundled dataset
 * (datasets/shop/README.md) with realistic funnel rates (~30 % click, ~23 % cart, ~48 % buy).
 *
 * Drifting popularity (`drift` X > 0, for nightly-retraining experiments where a stale model
 * decays): each item gets a trend g_i ~ N(0, 1) and a launch day (a share X · NEW_SHARE of the
 * items launch on a uniform day after the first; the rest, and one item per category, exist from
 * day 0). On day d an item's weight is multiplied by
 *   0 before its launch, else exp(X · TREND · g_i · d / (days − 1)) · (1 + HYPE · e^(−(d − L_i) / HYPE_DAYS))
 * (the hype term only for items launched after day 0): popularity shifts a little every day, and
 * new items arrive with a burst of interest. Each session draws its start time first and picks
 * items with the weights of its day. All of it comes from separate Prng streams and a separate
 * code path, so X = 0 (the default) writes exactly the bytes it always did.
 *
 * Launched items (`newItems` F in (0, 1], for catalogue and cold-start experiments): the same tables
 * and code path with a share F of the items launched after day 0 (instead of X · NEW_SHARE), on a
 * uniform day in [1, days]; day `days` is past the log, so those few are upcoming products that are
 * in the catalogue (synth/catalogue.ts) and never in the log. Without `drift` nothing trends, but
 * launches keep their burst of interest, so a new item gets its first rows soon after its launch.
 */
import { Prng } from '../../util/prng.js';

export const DIM = 8;
const ZIPF_S = 0.8;
const ALPHA = 0.8;
const BETA = 2.0;
const EXPLORE = 0.05;
const SIR_POOL = 384;
const FAVOURITE_WEIGHTS = [3.5, 2.5, 1.5] as const;
/** Per-coordinate noise: |η_u| ≈ 0.5·√8 ≈ 1.4, comparable to the favourite-category part. */
const USER_NOISE = 0.5;
const ITEM_NOISE = 0.55;
/** Drift: the share of items launched after day 0 at X = 1, the trend scale, and the launch hype. */
const NEW_SHARE = 0.5;
const TREND = 3;
const HYPE = 4;
const HYPE_DAYS = 2;

/** Diurnal shape of activity by UTC hour: a quiet night, a lunch bump and an evening peak. */
const HOUR_WEIGHTS = [
  0.35, 0.22, 0.15, 0.1, 0.1, 0.14, 0.3, 0.55, 0.8, 0.95, 1.0, 1.1, 1.3, 1.2, 1.0, 1.0, 1.05, 1.15, 1.35, 1.65, 1.85,
  1.75, 1.3, 0.7,
];

export const EVENT_TYPES = ['view', 'click', 'cart', 'buy'] as const;
export type EventType = (typeof EVENT_TYPES)[number];

const CATEGORY_NAMES = [
  'electronics', 'books', 'fashion', 'home', 'beauty', 'sports', 'toys', 'grocery', 'garden', 'auto', 'health',
  'music', 'games', 'pets', 'office', 'baby', 'jewelry', 'shoes', 'tools', 'outdoor', 'kitchen', 'art', 'movies',
  'crafts',
];

export function categoryName(k: number): string {
  return k < CATEGORY_NAMES.length ? CATEGORY_NAMES[k] : `cat${k + 1}`;
}

export interface WorldSpec {
  users: number;
  items: number;
  categories: number;
  days: number;
  /** Unix seconds of the first day's midnight (UTC). */
  startTs: number;
  seed: number;
  /** Popularity drift X ≥ 0 (see the file comment); 0 or absent: a stationary world. */
  drift?: number;
  /** Share of the items launched after day 0 (see the file comment); 0 or absent: as `drift` says. */
  newItems?: number;
}

export interface World {
  readonly spec: WorldSpec;
  /** Category of each (internal) item; internal items are grouped by category. */
  readonly itemCategory: Int32Array;
  /** Public 0-based id of each internal item (the file says `i${id + 1}`). */
  readonly itemExternal: Int32Array;
  /** pop^ALPHA of each internal item (unnormalised). */
  readonly itemPop: Float64Array;
  /** Item factor vectors, row-major items × DIM. */
  readonly itemVec: Float32Array;
  readonly itemBias: Float32Array;
  /** Category k owns internal items [catOffsets[k], catOffsets[k+1]). */
  readonly catOffsets: Int32Array;
  /** Walker alias tables over each category's items (by pop^ALPHA), for O(1) proposals. */
  readonly catAliasProb: Float64Array;
  readonly catAlias: Int32Array;
  readonly catCentroid: Float32Array;
  readonly catLogSize: Float64Array;
  /** Alias table over all items by pop^ALPHA (for exploration views). */
  readonly globalAliasProb: Float64Array;
  readonly globalAlias: Int32Array;
  readonly dayCdf: Float64Array;
  readonly hourCdf: Float64Array;
  /** Under drift or launches: launch day and trend of each internal item; null for a stationary world. */
  readonly launchDay: Int32Array | null;
  readonly trend: Float64Array | null;
}

/** The drift multiplier of an internal item's weight on `day` (0 before its launch). */
export function driftWeight(world: World, item: number, day: number): number {
  const launch = world.launchDay;
  const trend = world.trend;
  if (launch === null || trend === null) return 1;
  const l = launch[item];
  if (day < l) return 0;
  const x = world.spec.drift ?? 0;
  const span = Math.max(1, world.spec.days - 1);
  const hype = l > 0 ? 1 + HYPE * Math.exp(-(day - l) / HYPE_DAYS) : 1;
  return Math.exp((x * TREND * trend[item] * day) / span) * hype;
}

function cumulative(weights: ArrayLike<number>): Float64Array {
  const cdf = new Float64Array(weights.length);
  let s = 0;
  for (let i = 0; i < weights.length; i++) {
    s += weights[i];
    cdf[i] = s;
  }
  return cdf;
}

/** Index of the first cdf[j] > u·total, searching cdf[lo, hi). */
function searchCdf(cdf: Float64Array, lo: number, hi: number, target: number): number {
  let a = lo;
  let b = hi - 1;
  while (a < b) {
    const m = (a + b) >>> 1;
    if (cdf[m] > target) b = m;
    else a = m + 1;
  }
  return a;
}

/**
 * Vose's alias method over weights[lo, hi): fills prob/alias[lo, hi) with indices relative to lo.
 * Sampling is then one uniform draw: j = ⌊x·n⌋, keep j if the fraction < prob[j], else alias[j].
 */
function buildAlias(weights: Float64Array, lo: number, hi: number, prob: Float64Array, alias: Int32Array): void {
  const n = hi - lo;
  if (n === 0) return;
  let total = 0;
  for (let j = lo; j < hi; j++) total += weights[j];
  const scaled = new Float64Array(n);
  const small = new Int32Array(n);
  const large = new Int32Array(n);
  let ns = 0;
  let nl = 0;
  for (let j = 0; j < n; j++) {
    scaled[j] = (weights[lo + j] * n) / total;
    if (scaled[j] < 1) small[ns++] = j;
    else large[nl++] = j;
  }
  while (ns > 0 && nl > 0) {
    const s = small[--ns];
    const l = large[nl - 1];
    prob[lo + s] = scaled[s];
    alias[lo + s] = l;
    scaled[l] = scaled[l] + scaled[s] - 1;
    if (scaled[l] < 1) {
      nl--;
      small[ns++] = l;
    }
  }
  while (nl > 0) prob[lo + large[--nl]] = 1;
  while (ns > 0) prob[lo + small[--ns]] = 1;
}

/** An index in [0, n) drawn from an alias table slice starting at lo. */
function sampleAlias(rng: Prng, prob: Float64Array, alias: Int32Array, lo: number, n: number): number {
  const x = rng.next() * n;
  const j = Math.floor(x);
  return x - j < prob[lo + j] ? j : alias[lo + j];
}

function sampleCdf(rng: Prng, cdf: Float64Array, lo = 0, hi = cdf.length): number {
  const base = lo > 0 ? cdf[lo - 1] : 0;
  return searchCdf(cdf, lo, hi, base + rng.next() * (cdf[hi - 1] - base));
}

export function buildWorld(spec: WorldSpec): World {
  const { items, categories: C, days } = spec;
  const rng = Prng.fromSeed(spec.seed, 'synth/world');
  const catCentroid = categoryCentroids(rng, C);
  const { catOffsets, itemExternal, itemCategory } = layOutItems(rng, items, C);

  const popRank = rng.permutation(items);
  const popW = new Float64Array(items);
  for (let j = 0; j < items; j++) popW[j] = Math.pow(popRank[itemExternal[j]] + 1, -ZIPF_S * ALPHA);

  const itemVec = new Float32Array(items * DIM);
  const itemBias = new Float32Array(items);
  const noise = ITEM_NOISE / Math.sqrt(DIM);
  for (let j = 0; j < items; j++) {
    const k = itemCategory[j];
    for (let d = 0; d < DIM; d++) itemVec[j * DIM + d] = catCentroid[k * DIM + d] + noise * rng.normal();
    itemBias[j] = 0.3 * rng.normal();
  }

  const catLogSize = new Float64Array(C);
  for (let k = 0; k < C; k++) {
    let s = 0;
    for (let j = catOffsets[k]; j < catOffsets[k + 1]; j++) s += popW[j];
    catLogSize[k] = s > 0 ? Math.log(s) : -Infinity;
  }
  const catAliasProb = new Float64Array(items);
  const catAlias = new Int32Array(items);
  for (let k = 0; k < C; k++) buildAlias(popW, catOffsets[k], catOffsets[k + 1], catAliasProb, catAlias);
  const globalAliasProb = new Float64Array(items);
  const globalAlias = new Int32Array(items);
  buildAlias(popW, 0, items, globalAliasProb, globalAlias);

  const dayW = new Float64Array(days);
  const weekday0 = new Date(spec.startTs * 1000).getUTCDay();
  for (let d = 0; d < days; d++) {
    const wd = (weekday0 + d) % 7;
    dayW[d] = wd === 0 || wd === 6 ? 1.2 : 1.0;
  }

  return {
    spec,
    itemCategory,
    itemExternal,
    itemPop: popW,
    itemVec,
    itemBias,
    catOffsets,
    catCentroid,
    catLogSize,
    catAliasProb,
    catAlias,
    globalAliasProb,
    globalAlias,
    dayCdf: cumulative(dayW),
    hourCdf: cumulative(HOUR_WEIGHTS),
    ...driftTables(spec, catOffsets),
  };
}

/** A unit centroid per category, row-major C × DIM. */
function categoryCentroids(rng: Prng, C: number): Float32Array {
  const catCentroid = new Float32Array(C * DIM);
  for (let k = 0; k < C; k++) {
    let norm = 0;
    for (let d = 0; d < DIM; d++) {
      const x = rng.normal();
      catCentroid[k * DIM + d] = x;
      norm += x * x;
    }
    norm = Math.sqrt(norm);
    for (let d = 0; d < DIM; d++) catCentroid[k * DIM + d] /= norm;
  }
  return catCentroid;
}

/**
 * Items are numbered internally in category order (category k owns [catOffsets[k],
 * catOffsets[k+1])), so a user's sampling touches contiguous memory; `itemExternal` maps an
 * internal index to the shuffled public id, so ids carry no category or popularity information.
 */
function layOutItems(rng: Prng, items: number, C: number): { catOffsets: Int32Array; itemExternal: Int32Array; itemCategory: Int32Array } {
  // Category sizes are skewed too (a few big departments, a long tail of small ones).
  const catWeight = new Float64Array(C);
  for (let k = 0; k < C; k++) catWeight[k] = 1 / Math.pow(k + 1, 0.6);
  const catWeightCdf = cumulative(catWeight);
  const extCategory = new Int32Array(items);
  const order = rng.permutation(items);
  for (let j = 0; j < items; j++) {
    // The first C items (in a random order) seed every category, so none is empty.
    extCategory[order[j]] = j < C ? j : sampleCdf(rng, catWeightCdf);
  }
  const catOffsets = new Int32Array(C + 1);
  for (let i = 0; i < items; i++) catOffsets[extCategory[i] + 1]++;
  for (let k = 0; k < C; k++) catOffsets[k + 1] += catOffsets[k];
  const fill = catOffsets.slice(0, C);
  const itemExternal = new Int32Array(items);
  const itemCategory = new Int32Array(items);
  for (let i = 0; i < items; i++) {
    const j = fill[extCategory[i]]++;
    itemExternal[j] = i;
    itemCategory[j] = extCategory[i];
  }
  return { catOffsets, itemExternal, itemCategory };
}

/** Under drift or launches, each item's launch day and trend, from a stream of their own; null tables for a stationary world. */
function driftTables(spec: WorldSpec, catOffsets: Int32Array): { launchDay: Int32Array | null; trend: Float64Array | null } {
  const drift = spec.drift ?? 0;
  const newItems = spec.newItems ?? 0;
  if (!(drift > 0) && !(newItems > 0)) return { launchDay: null, trend: null };
  const { items, days } = spec;
  const drng = Prng.fromSeed(spec.seed, 'synth/drift');
  const launchDay = new Int32Array(items);
  const trend = new Float64Array(items);
  const share = newItems > 0 ? newItems : Math.min(1, NEW_SHARE * drift);
  // Drift alone launches inside the log (as it always did); explicit launches reach one day past it.
  const span = newItems > 0 ? days : days - 1;
  for (let j = 0; j < items; j++) {
    trend[j] = drng.normal();
    if (span > 0 && drng.next() < share) launchDay[j] = 1 + drng.int(span);
  }
  // Every category keeps an item from day 0, so a session in it always has something to view.
  for (let k = 0; k < spec.categories; k++) launchDay[catOffsets[k]] = 0;
  return { launchDay, trend };
}

/**
 * Rows of one user, in time order. Buffers are reused across users (bounded by the largest
 * per-user budget), so memory does not grow with the output.
 */
export interface UserRows {
  count: number;
  item: Int32Array;
  event: Uint8Array;
  ts: Float64Array;
  rating: Uint8Array;
}

function logistic(x: number): number {
  return 1 / (1 + Math.exp(-x));
}

/** A user's sampler for one category: a slice [lo, hi) of the generator's scratch arena. */
interface CatSampler {
  lo: number;
  hi: number;
}

function newRows(cap: number): UserRows {
  return { count: 0, item: new Int32Array(cap), event: new Uint8Array(cap), ts: new Float64Array(cap), rating: new Uint8Array(cap) };
}

/**
 * Generates users one at a time. `next(budget)` returns that user's rows (exactly `budget` of
 * them: the last session is cut short, which keeps every funnel stage a subset of the previous).
 */
export function createUserGenerator(world: World, explicit: boolean, onUser?: (taste: Float64Array) => void): (budget: number) => UserRows {
  const generator = new UserGenerator(world, explicit);
  return (budget) => generator.next(budget, onUser);
}

/**
 * One user's rows: factors and category preferences first, then sessions (content first, times
 * relative to the session start), then the sessions' start times. Every random draw comes from a
 * named stream in a fixed order, so the same seed gives the same bytes.
 */
class UserGenerator {
  private readonly C: number;
  private readonly rng: Prng;
  private readonly timeRng: Prng;
  /** Ratings draw from their own stream so `explicit` adds a column without changing any other byte. */
  private readonly ratingRng: Prng;
  /** The current user's factors and category CDF (by size and affinity). */
  private readonly u = new Float64Array(DIM);
  private readonly catCdf: Float64Array;
  private userBias = 0;
  private readonly cache = new Map<number, CatSampler>();
  private rows: UserRows = newRows(256);
  /** Rows emitted so far for the current user. */
  private n = 0;
  private sessionStart = new Int32Array(64);
  private sessionStarts = new Float64Array(64);
  private readonly windowEnd: number;
  private readonly drifting: boolean;
  // Under drift: each session's start (drawn before its content) and day, and scratch for the
  // per-session weights and for putting the sessions in time order.
  private driftStarts = new Float64Array(64);
  private driftDays = new Int32Array(64);
  private driftCdf = new Float64Array(SIR_POOL);
  private spare: UserRows = newRows(256);
  // Scratch arena for the current user's samplers (reset per user, grown on demand), so building a
  // sampler allocates nothing.
  private arenaItems = new Int32Array(4096);
  private arenaAff = new Float64Array(4096);
  private arenaCdf = new Float64Array(4096);
  private arenaTop = 0;
  /** The affinity of the item pickView returned. */
  private picked = 0;

  private readonly world: World;
  private readonly explicit: boolean;

  constructor(world: World, explicit: boolean) {
    this.world = world;
    this.explicit = explicit;
    const { spec } = world;
    this.C = spec.categories;
    this.rng = Prng.fromSeed(spec.seed, 'synth/events');
    this.timeRng = Prng.fromSeed(spec.seed, 'synth/time');
    this.ratingRng = Prng.fromSeed(spec.seed, 'synth/rating');
    this.catCdf = new Float64Array(this.C);
    this.windowEnd = spec.startTs + spec.days * 86400;
    this.drifting = world.launchDay !== null;
  }

  /** `onUser` sees the user's taste (factors) once drawn: rec synth --search reuses it, drawing nothing here. */
  next(budget: number, onUser?: (taste: Float64Array) => void): UserRows {
    this.ensure(budget);
    this.cache.clear();
    this.arenaTop = 0;
    this.drawUser();
    onUser?.(this.u);
    const sessions = this.drawSessions(budget);
    if (this.drifting) this.orderDriftSessions(sessions);
    else this.placeSessions(sessions);
    this.rows.count = this.n;
    return this.rows;
  }

  private ensure(n: number): void {
    if (this.rows.item.length >= n) return;
    let cap = this.rows.item.length;
    while (cap < n) cap *= 2;
    this.rows = newRows(cap);
    if (this.drifting) this.spare = newRows(cap);
  }

  /** User factors: a weighted mix of one to three favourite category centroids plus noise; then the category CDF. */
  private drawUser(): void {
    const { rng, u, catCdf, world, C } = this;
    u.fill(0);
    const nFav = 1 + (rng.next() < 0.6 ? 1 : 0) + (rng.next() < 0.3 ? 1 : 0);
    for (let f = 0; f < nFav; f++) {
      const k = rng.int(C);
      for (let d = 0; d < DIM; d++) u[d] += FAVOURITE_WEIGHTS[f] * world.catCentroid[k * DIM + d];
    }
    for (let d = 0; d < DIM; d++) u[d] += USER_NOISE * rng.normal();
    this.userBias = 0.45 * this.ratingRng.normal();
    let maxCat = -Infinity;
    for (let k = 0; k < C; k++) {
      let s = 0;
      for (let d = 0; d < DIM; d++) s += u[d] * world.catCentroid[k * DIM + d];
      catCdf[k] = world.catLogSize[k] + s;
      if (catCdf[k] > maxCat) maxCat = catCdf[k];
    }
    let acc = 0;
    for (let k = 0; k < C; k++) {
      acc += Math.exp(catCdf[k] - maxCat);
      catCdf[k] = acc;
    }
  }

  /** Sessions until the budget is spent; returns how many. Under drift each session's start is drawn first. */
  private drawSessions(budget: number): number {
    const { spec } = this.world;
    this.n = 0;
    let sessions = 0;
    while (this.n < budget) {
      this.growSessions(sessions);
      if (this.drifting) {
        const day = sampleCdf(this.timeRng, this.world.dayCdf);
        const hour = sampleCdf(this.timeRng, this.world.hourCdf);
        this.driftDays[sessions] = day;
        this.driftStarts[sessions] = spec.startTs + day * 86400 + hour * 3600 + this.timeRng.int(3600);
      }
      this.sessionStart[sessions++] = this.n;
      this.drawSession(budget, this.drifting ? this.driftDays[sessions - 1] : 0);
    }
    return sessions;
  }

  private growSessions(sessions: number): void {
    if (sessions === this.sessionStart.length) {
      const grown = new Int32Array(sessions * 2);
      grown.set(this.sessionStart);
      this.sessionStart = grown;
    }
    if (this.drifting && this.driftStarts.length <= sessions) {
      const st = new Float64Array(this.driftStarts.length * 2);
      st.set(this.driftStarts);
      this.driftStarts = st;
      const dd = new Int32Array(this.driftDays.length * 2);
      dd.set(this.driftDays);
      this.driftDays = dd;
    }
  }

  /** One session in one category: views, each maybe followed by the funnel's later stages. */
  private drawSession(budget: number, day: number): void {
    const { rng, catCdf, C } = this;
    const k = sampleCdf(rng, catCdf);
    const pk = (catCdf[k] - (k > 0 ? catCdf[k - 1] : 0)) / catCdf[C - 1];
    const sampler = this.samplerFor(k, (budget / 1.5) * pk);
    let views = 1;
    while (views < 30 && rng.next() < 0.7) views++;
    let t = 0;
    for (let v = 0; v < views && this.n < budget; v++) {
      const item = this.pickView(k, sampler, day);
      const a = this.picked;
      const rating = this.explicit
        ? Math.min(5, Math.max(1, Math.round(3.3 + 0.45 * (a - 2.6) + this.userBias + this.world.itemBias[item] + 0.6 * this.ratingRng.normal())))
        : 0;
      t += v === 0 ? 0 : 5 + Math.floor(-45 * Math.log(1 - rng.next()));
      this.emit(item, 0, t, rating);
      t = this.funnel(item, a, t, rating, budget);
    }
  }

  /** A viewed item: mostly by affinity within category k, sometimes by global popularity; its affinity in `picked`. */
  private pickView(k: number, sampler: CatSampler, day: number): number {
    const { rng, world } = this;
    if (this.drifting) {
      const item = rng.next() < EXPLORE ? this.driftExplore(k, day) : this.driftPick(k, sampler, day);
      this.picked = this.affinityOf(item);
      return item;
    }
    if (rng.next() < EXPLORE) {
      const item = sampleAlias(rng, world.globalAliasProb, world.globalAlias, 0, world.spec.items);
      this.picked = this.affinityOf(item);
      return item;
    }
    const j = sampleCdf(rng, this.arenaCdf, sampler.lo, sampler.hi);
    this.picked = this.arenaAff[j];
    return this.arenaItems[j];
  }

  /** Funnel: each stage only follows the previous one; every stage is likelier for a higher affinity. Returns the last time. */
  private funnel(item: number, a: number, t: number, rating: number, budget: number): number {
    const { rng } = this;
    if (this.n < budget && rng.next() < logistic(-2.3 + 0.45 * a)) {
      t += 2 + Math.floor(-10 * Math.log(1 - rng.next()));
      this.emit(item, 1, t, rating);
      if (this.n < budget && rng.next() < logistic(-2.9 + 0.4 * a)) {
        t += 5 + Math.floor(-40 * Math.log(1 - rng.next()));
        this.emit(item, 2, t, rating);
        if (this.n < budget && rng.next() < logistic(-1.5 + 0.3 * a)) {
          t += 20 + Math.floor(-120 * Math.log(1 - rng.next()));
          this.emit(item, 3, t, rating);
        }
      }
    }
    return t;
  }

  private emit(item: number, event: number, t: number, rating: number): void {
    const rows = this.rows;
    const n = this.n;
    rows.item[n] = item;
    rows.event[n] = event;
    rows.ts[n] = t;
    rows.rating[n] = rating;
    this.n = n + 1;
  }

  private affinityOf(i: number): number {
    const { u } = this;
    const itemVec = this.world.itemVec;
    let s = 0;
    const o = i * DIM;
    for (let d = 0; d < DIM; d++) s += u[d] * itemVec[o + d];
    return s;
  }

  /** Under drift: an item of category k (pool `sampler`) on `day`, by affinity × popularity × drift. */
  private driftPick(k: number, sampler: CatSampler, day: number): number {
    const size = sampler.hi - sampler.lo;
    if (this.driftCdf.length < size) this.driftCdf = new Float64Array(size);
    const { driftCdf, arenaCdf, arenaItems, world } = this;
    let s = 0;
    for (let j = 0; j < size; j++) {
      const at = sampler.lo + j;
      const base = arenaCdf[at] - (j > 0 ? arenaCdf[at - 1] : 0);
      s += base * driftWeight(world, arenaItems[at], day);
      driftCdf[j] = s;
    }
    if (s > 0) return arenaItems[sampler.lo + sampleCdf(this.rng, driftCdf, 0, size)];
    return this.driftExplore(k, day);
  }

  /** Under drift: an item by global popularity among those launched by `day` (else category k's day-0 item). */
  private driftExplore(k: number, day: number): number {
    const { world } = this;
    for (let tries = 0; tries < 32; tries++) {
      const item = sampleAlias(this.rng, world.globalAliasProb, world.globalAlias, 0, world.spec.items);
      if (driftWeight(world, item, day) > 0) return item;
    }
    return world.catOffsets[k];
  }

  /** The user's sampler for category k, built once per user into the arena. */
  private samplerFor(k: number, expectedViews: number): CatSampler {
    const hit = this.cache.get(k);
    if (hit) return hit;
    const { world, u } = this;
    const { itemPop, catAliasProb, catAlias, itemVec } = world;
    const lo = world.catOffsets[k];
    const hi = world.catOffsets[k + 1];
    // SIR with a pool several times the number of draws is close to exact sampling.
    const pool = Math.min(SIR_POOL, Math.max(24, Math.ceil(6 * expectedViews)));
    const exact = hi - lo <= pool;
    const size = exact ? hi - lo : pool;
    this.growArena(size);
    const { arenaItems, arenaAff, arenaCdf } = this;
    const base = this.arenaTop;
    let max = -Infinity;
    for (let j = 0; j < size; j++) {
      const item = exact ? lo + j : lo + sampleAlias(this.rng, catAliasProb, catAlias, lo, hi - lo);
      arenaItems[base + j] = item;
      const o = item * DIM;
      let a = 0;
      for (let d = 0; d < DIM; d++) a += u[d] * itemVec[o + d];
      arenaAff[base + j] = a;
      if (a > max) max = a;
    }
    // Exact: weight pop^ALPHA · exp(BETA·a). SIR: proposals are already drawn ∝ pop^ALPHA.
    let s = 0;
    for (let j = 0; j < size; j++) {
      const w = Math.exp(BETA * (arenaAff[base + j] - max));
      s += exact ? w * itemPop[lo + j] : w;
      arenaCdf[base + j] = s;
    }
    this.arenaTop += size;
    const sampler = { lo: base, hi: base + size };
    this.cache.set(k, sampler);
    return sampler;
  }

  private growArena(size: number): void {
    const top = this.arenaTop;
    if (top + size <= this.arenaItems.length) return;
    let cap = this.arenaItems.length * 2;
    while (cap < top + size) cap *= 2;
    const it = new Int32Array(cap);
    it.set(this.arenaItems.subarray(0, top));
    const af = new Float64Array(cap);
    af.set(this.arenaAff.subarray(0, top));
    const cd = new Float64Array(cap);
    cd.set(this.arenaCdf.subarray(0, top));
    this.arenaItems = it;
    this.arenaAff = af;
    this.arenaCdf = cd;
  }

  /**
   * Under drift the sessions' starts were drawn with their content (their day chose the items):
   * lay the sessions out in start order (ties: creation order), each pushed past the previous.
   */
  private orderDriftSessions(sessions: number): void {
    const { rows, spare, sessionStart, driftStarts, n, windowEnd } = this;
    const order = Array.from({ length: sessions }, (_, s) => s);
    order.sort((a, b) => driftStarts[a] - driftStarts[b] || a - b);
    let at = 0;
    let prevEnd = -Infinity;
    for (const s of order) {
      const lo = sessionStart[s];
      const hi = s + 1 < sessions ? sessionStart[s + 1] : n;
      const start = Math.max(driftStarts[s], prevEnd + 60);
      for (let r = lo; r < hi; r++, at++) {
        spare.item[at] = rows.item[r];
        spare.event[at] = rows.event[r];
        spare.rating[at] = rows.rating[r];
        spare.ts[at] = Math.min(start + rows.ts[r], windowEnd - 1);
      }
      prevEnd = spare.ts[at - 1];
    }
    this.rows = spare;
    this.spare = rows;
  }

  /**
   * Session start times: day weighted (weekends busier), hour by the diurnal curve; sorted, and
   * pushed forward when a session would overlap the previous one.
   */
  private placeSessions(sessions: number): void {
    const { world, timeRng, rows, sessionStart, n, windowEnd } = this;
    if (this.sessionStarts.length < sessions) this.sessionStarts = new Float64Array(sessionStart.length);
    const sessionStarts = this.sessionStarts;
    for (let s = 0; s < sessions; s++) {
      const day = sampleCdf(timeRng, world.dayCdf);
      const hour = sampleCdf(timeRng, world.hourCdf);
      sessionStarts[s] = world.spec.startTs + day * 86400 + hour * 3600 + timeRng.int(3600);
    }
    const starts = sessionStarts.subarray(0, sessions).sort();
    let prevEnd = -Infinity;
    for (let s = 0; s < sessions; s++) {
      const lo = sessionStart[s];
      const hi = s + 1 < sessions ? sessionStart[s + 1] : n;
      const start = Math.max(starts[s], prevEnd + 60);
      for (let r = lo; r < hi; r++) rows.ts[r] = Math.min(start + rows.ts[r], windowEnd - 1);
      prevEnd = rows.ts[hi - 1];
    }
  }
}
