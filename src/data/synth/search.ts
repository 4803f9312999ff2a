/**
 * Search sessions behind `rec synth --search` (with --catalogue): a log of `user,query,item,ts,event` rows drawn
 * from the same latent world as the behaviour log and the catalogue, so that a search model has something to
 * learn and a personalised one something more.
 *
 * Each user of the behaviour log (the same ids, the same latent taste) runs a few sessions. A session has a
 * target: a category by the user's taste, then an item of it by affinity. The query is one to three words of the
 * target's title (lower case, in title order), sometimes with a typo (two letters swapped) and sometimes led by
 * the brand or the category name. The results are the items whose titles hold the query's first word (at most
 * RESULTS of them, the target always among them); the user clicks one to three of them, each drawn by
 * exp(TASTE · affinity + words matched), so two users typing the same query click different items, as their
 * behaviour says. A click may lead to a cart and a buy (likelier for a higher affinity), rows of their own.
 *
 * Every draw comes from the stream 'synth/search', after the log and the catalogue are written: the other outputs
 * are the same bytes with or without --search.
 */
import { Prng } from '../../util/prng.js';
import { categoryName, DIM, type World } from './world.js';

/** Most results a query shows (the target and a sample of the other matching items). */
const RESULTS = 40;
/** How strongly the user's taste (affinity u·v) weighs against the words matched when choosing what to click. */
const TASTE = 3;
const TYPO = 0.1;
const LEAD_WORD = 0.15;
const MAX_SESSIONS = 20;

export interface SearchWorld {
  world: World;
  /** Title and brand of each internal item (the catalogue's). */
  titles: string[];
  brands: (string | null)[];
  /** Public 0-based index of each user with rows, and their taste vectors (DIM floats each, same order). */
  users: Int32Array;
  tastes: Float32Array;
}

export interface SearchTally {
  rows: number;
  sessions: number;
  queries: Set<string>;
}

function lowerWords(text: string): string[] {
  return text
    .toLowerCase()
    .split(/\s+/)
    .filter((w) => w !== '');
}

/** Items per title word (internal ids ascending), for the results of a query. */
function wordIndex(titles: readonly string[]): Map<string, number[]> {
  const index = new Map<string, number[]>();
  titles.forEach((t, j) => {
    for (const w of new Set(lowerWords(t))) {
      const list = index.get(w);
      if (list === undefined) index.set(w, [j]);
      else list.push(j);
    }
  });
  return index;
}

function affinity(world: World, taste: Float32Array, o: number, j: number): number {
  let s = 0;
  for (let d = 0; d < DIM; d++) s += taste[o + d] * world.itemVec[j * DIM + d];
  return s + world.itemBias[j];
}

/** Index drawn from unnormalised log-weights. */
function drawLog(rng: Prng, logw: readonly number[]): number {
  let max = -Infinity;
  for (const x of logw) if (x > max) max = x;
  let total = 0;
  const w = logw.map((x) => {
    const e = Math.exp(x - max);
    total += e;
    return e;
  });
  let r = rng.next() * total;
  for (let k = 0; k < w.length; k++) {
    r -= w[k];
    if (r <= 0) return k;
  }
  return w.length - 1;
}

/** A query for item j: title words, sometimes a typo, sometimes led by its brand or category. */
function queryFor(rng: Prng, sw: SearchWorld, j: number): { text: string; first: string } {
  const words = lowerWords(sw.titles[j]);
  const n = Math.min(words.length, 1 + rng.int(3));
  const start = rng.int(words.length - n + 1);
  const picked = words.slice(start, start + n);
  const first = picked[0];
  if (rng.next() < TYPO) {
    const k = rng.int(picked.length);
    const w = picked[k];
    if (w.length >= 4) {
      const p = 1 + rng.int(w.length - 2);
      picked[k] = w.slice(0, p) + w[p + 1] + w[p] + w.slice(p + 2);
    }
  }
  if (rng.next() < LEAD_WORD) {
    const brand = sw.brands[j];
    picked.unshift((brand ?? categoryName(sw.world.itemCategory[j])).toLowerCase());
  }
  return { text: picked.join(' '), first };
}

/** The items a query shows: those holding its first word, sampled down to RESULTS, the target first. */
function resultsFor(rng: Prng, index: Map<string, number[]>, first: string, target: number): number[] {
  const all = index.get(first) ?? [];
  const others = all.filter((j) => j !== target);
  for (let k = others.length - 1; k > 0; k--) {
    const m = rng.int(k + 1);
    const t = others[k];
    others[k] = others[m];
    others[m] = t;
  }
  return [target, ...others.slice(0, RESULTS - 1)];
}

function csvQuote(text: string): string {
  return /[",\n\r]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/** The search log's text in chunks (a header, then user by user, each user's sessions in time order). */
export function* searchLines(sw: SearchWorld, tally: SearchTally): Generator<string> {
  const { world } = sw;
  const { spec, catOffsets } = world;
  const rng = Prng.fromSeed(spec.seed, 'synth/search');
  const index = wordIndex(sw.titles);
  const C = spec.categories;
  let out = 'user,query,item,ts,event\n';
  for (let k = 0; k < sw.users.length; k++) {
    const o = k * DIM;
    const catLog: number[] = [];
    for (let c = 0; c < C; c++) {
      let s = world.catLogSize[c];
      for (let d = 0; d < DIM; d++) s += sw.tastes[o + d] * world.catCentroid[c * DIM + d];
      catLog.push(s);
    }
    let sessions = 1;
    while (sessions < MAX_SESSIONS && rng.next() < 0.75) sessions++;
    const starts = Array.from({ length: sessions }, () => spec.startTs + rng.int(spec.days * 86_400)).sort((a, b) => a - b);
    const user = `u${sw.users[k] + 1}`;
    for (const start of starts) {
      const c = drawLog(rng, catLog);
      const members: number[] = [];
      const affs: number[] = [];
      for (let j = catOffsets[c]; j < catOffsets[c + 1]; j++) {
        members.push(j);
        affs.push(TASTE * affinity(world, sw.tastes, o, j));
      }
      const target = members[drawLog(rng, affs)];
      const q = queryFor(rng, sw, target);
      const qWords = new Set(lowerWords(q.text));
      const results = resultsFor(rng, index, q.first, target);
      const clicks = 1 + (rng.next() < 0.4 ? 1 : 0) + (rng.next() < 0.2 ? 1 : 0);
      const logw = results.map((j) => TASTE * affinity(world, sw.tastes, o, j) + lowerWords(sw.titles[j]).filter((w) => qWords.has(w)).length);
      let t = start;
      const query = csvQuote(q.text);
      for (let n = 0; n < Math.min(clicks, results.length); n++) {
        const pick = drawLog(rng, logw);
        logw[pick] = -Infinity;
        const j = results[pick];
        const item = `i${world.itemExternal[j] + 1}`;
        const a = affinity(world, sw.tastes, o, j);
        t += 3 + rng.int(60);
        out += `${user},${query},${item},${t},click\n`;
        tally.rows++;
        if (rng.next() < 0.35 / (1 + Math.exp(-2 * (a - 1)))) {
          t += 10 + rng.int(120);
          out += `${user},${query},${item},${t},cart\n`;
          tally.rows++;
          if (rng.next() < 0.5) {
            t += 30 + rng.int(600);
            out += `${user},${query},${item},${t},buy\n`;
            tally.rows++;
          }
        }
      }
      tally.sessions++;
      tally.queries.add(q.text);
    }
    if (out.length >= 1 << 20) {
      yield out;
      out = '';
    }
  }
  if (out.length > 0) yield out;
}
