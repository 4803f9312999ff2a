/**
 * The item catalogue behind `rec synth --catalogue`: one JSON object per item (`item`, `title`,
 * `brand`, `categories`, `price`, and `launched` when items launch over time), drawn from the same
 * latent world as the log, so an item's features say who interacts with it.
 *
 * Every category (the world's clusters) gets its own made-up vocabulary: TOPIC_WORDS title words,
 * a few brands, sub-categories and leaves, each with a random direction in the item factor space.
 * An item of category k picks its words, brand and sub-category among k's by
 * P ∝ exp(base + GAMMA · direction · v_i) (Gumbel top-k), so items close in the latent space share
 * words and brands, and within a category the words still tell the items' factors apart. Noise keeps
 * it from being a lookup table: a title word is sometimes another category's, a few items carry a
 * house brand seen in every category or none, a few are filed under another category's path, and
 * prices scatter around a per-category log-normal (also tilted by the item's factors).
 *
 * Vocabularies come from a Prng stream per category and items from one stream in public id order,
 * so the catalogue depends only on the seed and the world, and drawing it changes no byte of the log.
 */
import { Prng } from '../../util/prng.js';
import { categoryName, DIM, type World } from './world.js';

const TOPIC_WORDS = 32;
const BRANDS = 6;
const SUBS = 3;
const LEAVES = 2;
/** How strongly an item's factors pick its words, brand and sub-category (|v − c_k| ≈ 0.55, so GAMMA · dir · (v − c_k) spreads over a few units). */
const GAMMA = 10;
/** Per title word: the chance it is another category's word. */
const FOREIGN_WORD = 0.15;
const HOUSE_BRAND = 0.1;
const NO_BRAND = 0.05;
const MISFILED = 0.04;
const NO_LEAF = 0.3;
const NO_PRICE = 0.03;

const CONSONANTS = 'bcdfgklmnprstvz';
const VOWELS = 'aeiou';
const CODAS = ['', '', '', 'n', 'r', 's', 'l'];
const GENERIC = [
  'Premium', 'Classic', 'Pro', 'Mini', 'Max', 'Plus', 'Set', 'Pack', 'Deluxe', 'Original', 'Edition', 'Value',
  'Large', 'Small', 'Black', 'White', 'Blue', 'Red', 'Green', 'New', 'Essential', 'Compact', 'Smart', 'Eco',
];
const SUB_NOUNS = ['Accessories', 'Essentials', 'Sets', 'Parts', 'Care', 'Basics', 'Kits', 'Supplies', 'Gear', 'Tools'];
/** Brands seen in every category (a marketplace's own label): a brand that says little about the item. */
const HOUSE_BRANDS = ['Basics', 'Everyday', 'Homestead', 'Northline'];

/** A set of named options with a direction each, drawn for an item by exp(GAMMA · dir · v + base). */
interface Choices {
  names: string[];
  dirs: Float64Array;
  base: Float64Array;
}

interface CategoryTables {
  words: Choices;
  brands: Choices;
  subs: Choices;
  /** Leaf names, LEAVES per sub-category; a leaf is drawn like a sub-category. */
  leaves: Choices;
  /** Log-price mean and the direction that tilts it. */
  priceMu: number;
  priceDir: Float64Array;
}

function capitalise(word: string): string {
  return word.charAt(0).toUpperCase() + word.slice(1);
}

/** A pronounceable made-up word of two or three syllables. */
function madeUpWord(rng: Prng): string {
  const syllables = 2 + rng.int(2);
  let w = '';
  for (let s = 0; s < syllables; s++) {
    w += CONSONANTS[rng.int(CONSONANTS.length)] + VOWELS[rng.int(VOWELS.length)];
    if (s === syllables - 1 || rng.next() < 0.3) w += CODAS[rng.int(CODAS.length)];
  }
  return capitalise(w);
}

/** `n` unit directions, each near the category centroid `c` (weight `pull`) plus a random part. */
function directions(rng: Prng, n: number, c: Float32Array, k: number, pull: number): Float64Array {
  const out = new Float64Array(n * DIM);
  for (let j = 0; j < n; j++) {
    let norm = 0;
    for (let d = 0; d < DIM; d++) {
      const x = pull * c[k * DIM + d] + rng.normal() / Math.sqrt(DIM);
      out[j * DIM + d] = x;
      norm += x * x;
    }
    norm = Math.sqrt(norm);
    for (let d = 0; d < DIM; d++) out[j * DIM + d] /= norm;
  }
  return out;
}

function choices(rng: Prng, names: string[], world: World, k: number): Choices {
  const base = new Float64Array(names.length);
  // Zipf-like base weights: a few words (brands) are common in their category, most are rarer.
  for (let j = 0; j < names.length; j++) base[j] = -0.7 * Math.log(j + 1);
  return { names, dirs: directions(rng, names.length, world.catCentroid, k, 0.5), base };
}

function categoryTables(world: World, k: number): CategoryTables {
  const rng = Prng.fromSeed(world.spec.seed, `synth/catalogue/${k}`);
  const used = new Set<string>();
  const fresh = (): string => {
    for (;;) {
      const w = madeUpWord(rng);
      if (!used.has(w)) {
        used.add(w);
        return w;
      }
    }
  };
  const words = Array.from({ length: TOPIC_WORDS }, fresh);
  const brands = Array.from({ length: BRANDS }, fresh);
  const subs = Array.from({ length: SUBS }, () => `${fresh()} ${SUB_NOUNS[rng.int(SUB_NOUNS.length)]}`);
  const leaves = Array.from({ length: SUBS * LEAVES }, () => `${fresh()} ${SUB_NOUNS[rng.int(SUB_NOUNS.length)]}`);
  const priceDir = directions(rng, 1, world.catCentroid, k, 0);
  return {
    words: choices(rng, words, world, k),
    brands: choices(rng, brands, world, k),
    subs: choices(rng, subs, world, k),
    leaves: choices(rng, leaves, world, k),
    priceMu: Math.log(25) + 0.9 * rng.normal(),
    priceDir,
  };
}

function gumbel(rng: Prng): number {
  let u = 0;
  while (u === 0) u = rng.next();
  return -Math.log(-Math.log(u));
}

/**
 * `count` distinct options of `c` among [from, to), for an item with factors at `itemVec[o..]`,
 * drawn without replacement by exp(base + GAMMA · dir · v) (Gumbel top-k), best first.
 */
function pick(rng: Prng, c: Choices, itemVec: Float32Array, o: number, count: number, from = 0, to = c.names.length): number[] {
  const keys: { j: number; key: number }[] = [];
  for (let j = from; j < to; j++) {
    let s = 0;
    for (let d = 0; d < DIM; d++) s += c.dirs[j * DIM + d] * itemVec[o + d];
    keys.push({ j, key: c.base[j] + GAMMA * s + gumbel(rng) });
  }
  keys.sort((a, b) => b.key - a.key || a.j - b.j);
  return keys.slice(0, count).map((x) => x.j);
}

/** One item's catalogue record, minus `item` and `launched`. */
export interface CatalogueFeatures {
  title: string;
  brand: string | null;
  categories: string[];
  price: number | null;
}

/**
 * Draws catalogue records item by item. Category tables are built on first use and kept (their
 * size follows the number of categories, not of items).
 */
export class CatalogueDrawer {
  private readonly tables = new Map<number, CategoryTables>();
  private readonly rng: Prng;
  private readonly world: World;

  constructor(world: World) {
    this.world = world;
    this.rng = Prng.fromSeed(world.spec.seed, 'synth/catalogue');
  }

  private tablesOf(k: number): CategoryTables {
    let t = this.tables.get(k);
    if (t === undefined) {
      t = categoryTables(this.world, k);
      this.tables.set(k, t);
    }
    return t;
  }

  /** The features of internal item `j`. Call in a fixed order: draws come from one stream. */
  features(j: number): CatalogueFeatures {
    const { rng, world } = this;
    const C = world.spec.categories;
    const k = world.itemCategory[j];
    const t = this.tablesOf(k);
    const o = j * DIM;
    const nWords = 2 + rng.int(3);
    const own = pick(rng, t.words, world.itemVec, o, nWords);
    const words = own.map((w) => {
      if (C < 2 || rng.next() >= FOREIGN_WORD) return t.words.names[w];
      const other = (k + 1 + rng.int(C - 1)) % C;
      return this.tablesOf(other).words.names[rng.int(TOPIC_WORDS)];
    });
    const brandDraw = rng.next();
    const brand =
      brandDraw < NO_BRAND ? null : brandDraw < NO_BRAND + HOUSE_BRAND ? HOUSE_BRANDS[rng.int(HOUSE_BRANDS.length)] : t.brands.names[pick(rng, t.brands, world.itemVec, o, 1)[0]];
    const generic = rng.int(3);
    for (let g = 0; g < generic; g++) words.splice(rng.int(words.length + 1), 0, GENERIC[rng.int(GENERIC.length)]);
    if (brand !== null && rng.next() < 0.4) words.unshift(brand);
    const filedK = C > 1 && rng.next() < MISFILED ? (k + 1 + rng.int(C - 1)) % C : k;
    const filed = this.tablesOf(filedK);
    const sub = pick(rng, filed.subs, world.itemVec, o, 1)[0];
    const categories = [capitalise(categoryName(filedK)), filed.subs.names[sub]];
    if (rng.next() >= NO_LEAF) categories.push(filed.leaves.names[pick(rng, filed.leaves, world.itemVec, o, 1, sub * LEAVES, (sub + 1) * LEAVES)[0]]);
    let tilt = 0;
    for (let d = 0; d < DIM; d++) tilt += t.priceDir[d] * (world.itemVec[o + d] - world.catCentroid[k * DIM + d]);
    const logPrice = t.priceMu + 1.5 * tilt + 0.35 * rng.normal();
    const price = rng.next() < NO_PRICE ? null : roundPrice(Math.exp(logPrice));
    return { title: words.join(' '), brand, categories, price };
  }
}

/** Shop prices: x.99 from 2 up, cents below. */
function roundPrice(p: number): number {
  if (p < 2) return Math.max(0.19, Math.round(p * 100) / 100);
  return Math.round(p) - 0.01;
}
