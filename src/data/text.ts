/**
 * The deterministic text featuriser of catalogue titles and search queries (issue #21, PRODUCT.md §2, §3, §5): the
 * recipe of Nigam et al., "Semantic Product Search", KDD 2019 — word unigrams, word bigrams and character trigrams,
 * each hashed into a fixed number of buckets — with no pretrained weights. Titles and queries go through this one
 * function, so the same words land in the same buckets on both sides.
 *
 * Normalisation (normalizeText), in this order:
 *  1. the input is cut to `maxChars` UTF-16 units (never inside a surrogate pair), so a 1 MB title costs what a
 *     16 KiB one does;
 *  2. HTML tags (`<b>`, `</p>`, `<br/>`, `<!DOCTYPE …>`; a `<` not followed by a letter, `/` or `!` is text) become
 *     a space; the common entities (&amp; &lt; &gt; &quot; &apos; &nbsp; a few typographic ones, &#NNN; &#xHH;)
 *     are decoded, twice at most, because catalogue exports often carry `&amp;amp;`; an unknown named entity stays
 *     as written (its `&` and `;` then separate words);
 *  3. ™ and ℠ become a space (NFKC would turn `Nike™` into `niketm`), then NFKC (full-width `ＵＳＢ` → `USB`,
 *     `ｶ` → `カ`, a decomposed `é` → `é`; accents are kept, not stripped), then lower-case with the
 *     locale-independent String.prototype.toLowerCase.
 *
 * Units (the "words" of the recipe), scanning the normalised text by code point:
 *  - a word is a run of letters, digits and combining marks (\p{L}, \p{N}, and \p{M} after one of them) of a
 *    script that separates words with spaces; `4k`, `iphone15`, `café` are one word each;
 *  - `.` between two ASCII digits stays inside the word (`1.5`, `v2.0`, `3.5mm`); `,` never does (`1,5` → `1`, `5`);
 *  - an apostrophe (' or ’) between two word characters is dropped (`men's` → `mens`, `l'oréal` → `loréal`);
 *  - a connector (`-` `_` `/` `&` `.` U+2010 U+2011) between two word characters splits the words but joins them
 *    into one compound: `usb-c` gives the words `usb` and `c`, and its trigrams are those of the joined `usbc`, so
 *    `usb c`, `usb-c` and `usbc` share features;
 *  - a character of a script written without spaces (Han, Hiragana, Katakana — including ー and 々 — Thai, Lao,
 *    Khmer, Myanmar) is a unit by itself: a run `苹果手机壳` gives the unigrams 苹 果 手 机 壳 and, as bigrams of
 *    adjacent units, 苹果 果手 手机 机壳. These units get no trigrams (their unigrams and bigrams already are the
 *    character n-grams); n-grams are over code points, not grapheme clusters;
 *  - everything else separates units: spaces, punctuation, symbols, emoji (dropped: they carry no words). Variation
 *    selectors, the keycap mark U+20E3, soft hyphen, ZWJ, ZWNJ, word joiner and BOM are ignored without separating.
 *  At most `maxUnits` units are read (later text is dropped), and at most `maxChars` code points stored.
 *
 * Features, each namespaced by a 2-byte prefix before hashing so that the word `abc`, the bigram and the trigram
 * `abc` differ: `w:` + unit (unigram); `b:` + unit + ` ` + next unit (every pair of adjacent units in the text,
 * across separators and scripts); `t:` + each 3 code points of `#` + compound + `#` (the boundary marker `#` is a
 * separator, so it never occurs inside a word). Hash: MurmurHash3 x86_32 of the feature's UTF-8 bytes with `seed`,
 * bucket = hash mod numBuckets. The output is the distinct buckets ascending with their counts (collisions add up).
 */

/** Buckets of the hashing trick by default: 2^18, Nigam et al.'s order of magnitude for a title vocabulary. */
export const DEFAULT_TEXT_BUCKETS = 1 << 18;
export const DEFAULT_TEXT_SEED = 0;
/** UTF-16 units of input read at most (see the module comment); a title or description is rarely past a few KiB. */
export const MAX_TEXT_CHARS = 16_384;
/** Units (words and no-space characters) read at most from one text. */
export const MAX_TEXT_UNITS = 1_024;
/** Names this recipe in manifests: a dataset's text buckets and a query's must come from the same version. */
export const TEXT_FEATURIZER_VERSION = 'nigam2019-murmur3-v1';

// ---------------------------------------------------------------------------------------------------------------
// MurmurHash3 x86_32 (Austin Appleby, SMHasher, public domain).

const C1 = 0xcc9e2d51;
const C2 = 0x1b873593;

function mixK(k: number): number {
  k = Math.imul(k, C1);
  k = (k << 15) | (k >>> 17);
  return Math.imul(k, C2);
}

/** MurmurHash3's finalisation: avalanches the last bits of the state, as an unsigned 32-bit integer. */
function fmix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** MurmurHash3 x86_32 of `bytes[0, length)` as an unsigned 32-bit integer. */
export function murmurhash3_32(bytes: Uint8Array, seed = 0, length = bytes.length): number {
  if (!Number.isInteger(length) || length < 0 || length > bytes.length) {
    throw new RangeError(`murmurhash3_32: length must be an integer in [0, ${bytes.length}]; got ${length}`);
  }
  return murmurUnchecked(bytes, seed, length);
}

function murmurUnchecked(bytes: Uint8Array, seed: number, length: number): number {
  let h = seed | 0;
  const blocks = length & ~3;
  for (let i = 0; i < blocks; i += 4) {
    h ^= mixK(bytes[i] | (bytes[i + 1] << 8) | (bytes[i + 2] << 16) | (bytes[i + 3] << 24));
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  const tail = length & 3;
  if (tail > 0) {
    let k = bytes[blocks];
    if (tail > 1) k |= bytes[blocks + 1] << 8;
    if (tail > 2) k |= bytes[blocks + 2] << 16;
    h ^= mixK(k);
  }
  h ^= length;
  return fmix(h);
}

/**
 * murmurUnchecked of the bytes `p & 0xff`, `p >>> 8` then bytes[from, to): a unit's unigram (`w:` + the unit) or
 * a bigram (`b:` + two units and the space between, laid out so in the featuriser's unit bytes) hashed in place,
 * without copying the feature out first. The same blocks as murmurUnchecked reads from the joined bytes.
 */
function murmurPrefixed(p: number, bytes: Uint8Array, from: number, to: number, seed: number): number {
  const length = to - from + 2;
  let h = seed | 0;
  if (length < 4) {
    // No full block: the tail holds the prefix and at most one byte.
    let k = p;
    if (length > 2) k |= bytes[from] << 16;
    h ^= mixK(k);
    h ^= length;
    return fmix(h);
  }
  h ^= mixK(p | (bytes[from] << 16) | (bytes[from + 1] << 24));
  h = (h << 13) | (h >>> 19);
  h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  // The joined bytes' blocks 1.. start at payload offset 2; the tail after the last full block.
  const end = from + 2 + ((length - 4) & ~3);
  for (let i = from + 2; i < end; i += 4) {
    h ^= mixK(bytes[i] | (bytes[i + 1] << 8) | (bytes[i + 2] << 16) | (bytes[i + 3] << 24));
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  const tail = length & 3;
  if (tail > 0) {
    let k = bytes[end];
    if (tail > 1) k |= bytes[end + 1] << 8;
    if (tail > 2) k |= bytes[end + 2] << 16;
    h ^= mixK(k);
  }
  h ^= length;
  return fmix(h);
}

/**
 * murmurhash3_32 of the 5 bytes `t:` a b c, for three ASCII code points: most trigrams of most catalogues, hashed
 * without writing them out (the tests check it against the general path).
 */
function asciiTrigramHash(a: number, b: number, c: number, seed: number): number {
  let h = seed | 0;
  h ^= mixK(0x74 | (0x3a << 8) | (a << 16) | (b << 24));
  h = (h << 13) | (h >>> 19);
  h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  h ^= mixK(c);
  h ^= 5;
  return fmix(h);
}

const utf8 = new TextEncoder();

/** MurmurHash3 x86_32 of a string's UTF-8 bytes. */
export function murmurhash3String(text: string, seed = 0): number {
  return murmurhash3_32(utf8.encode(text), seed);
}

/** The bucket of one feature string as textTokens writes it (`w:usb`, `b:usb c`, `t:#us`). */
export function featureBucket(feature: string, numBuckets = DEFAULT_TEXT_BUCKETS, seed = DEFAULT_TEXT_SEED): number {
  checkBuckets(numBuckets);
  return murmurhash3String(feature, seed) % numBuckets;
}

// ---------------------------------------------------------------------------------------------------------------
// Normalisation.

const TAG_RE = /<\/?[A-Za-z][^<>]*>|<![^<>]*>/g;
const ENTITY_RE = /&(?:#(\d{1,7})|#[xX]([0-9A-Fa-f]{1,6})|([A-Za-z][A-Za-z0-9]{1,7}));/g;
const NAMED_ENTITIES: Readonly<Record<string, string>> = {
  amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: ' ', shy: '\u00ad', ndash: '–', mdash: '—',
  hellip: '…', lsquo: '‘', rsquo: '’', ldquo: '“', rdquo: '”', laquo: '«', raquo: '»', middot: '·', bull: '•',
  times: '×', deg: '°', reg: '®', copy: '©', trade: '™', euro: '€', pound: '£', yen: '¥', cent: '¢',
};
const TRADEMARK_RE = /[\u2122\u2120]/g;
// eslint-disable-next-line no-control-regex
const NON_ASCII_RE = /[^\u0000-\u007f]/;

function decodeEntity(whole: string, dec: string | undefined, hex: string | undefined, name: string | undefined): string {
  if (name !== undefined) return NAMED_ENTITIES[name] ?? NAMED_ENTITIES[name.toLowerCase()] ?? whole;
  const cp = dec !== undefined ? Number.parseInt(dec, 10) : Number.parseInt(hex ?? '', 16);
  // NUL, surrogates and values past U+10FFFF are not characters: a space keeps the words around them apart.
  if (cp === 0 || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return ' ';
  return String.fromCodePoint(cp);
}

function decodeEntities(text: string): string {
  return text.replace(ENTITY_RE, decodeEntity);
}

/** `text` cut to at most `maxChars` UTF-16 units, never between the two halves of a surrogate pair. */
function capChars(text: string, maxChars: number): string {
  if (text.length <= maxChars) return text;
  const last = text.charCodeAt(maxChars - 1);
  return text.slice(0, last >= 0xd800 && last <= 0xdbff ? maxChars - 1 : maxChars);
}

/** The normalised text that units are read from (steps 1-3 of the module comment). */
export function normalizeText(text: string, maxChars = MAX_TEXT_CHARS): string {
  if (typeof text !== 'string') throw new RangeError(`normalizeText: text must be a string; got ${typeof text}`);
  checkPositiveInt('maxChars', maxChars);
  let s = capChars(text, maxChars);
  if (s.includes('<')) s = s.replace(TAG_RE, ' ');
  if (s.includes('&')) {
    s = decodeEntities(s);
    if (s.includes('&')) s = decodeEntities(s);
  }
  if (NON_ASCII_RE.test(s)) s = s.replace(TRADEMARK_RE, ' ').normalize('NFKC');
  return s.toLowerCase();
}

// ---------------------------------------------------------------------------------------------------------------
// Character classes, cached for the BMP (a 64 KiB table filled on first sight of each character).

const K_SEP = 1;
const K_WORD = 2;
const K_MARK = 3;
const K_NOSPACE = 4;
const K_IGNORE = 5;
const K_CONNECT = 6;
const K_DOT = 7;
const K_APOS = 8;

const NOSPACE_RE =
  /^[\p{scx=Han}\p{scx=Hiragana}\p{scx=Katakana}\p{scx=Thai}\p{scx=Lao}\p{scx=Khmer}\p{scx=Myanmar}]$/u;
const LETTER_OR_NUMBER_RE = /^[\p{L}\p{N}]$/u;
const MARK_RE = /^\p{M}$/u;
const VARIATION_SELECTOR_RE = /^\p{Variation_Selector}$/u;
// The keycap mark, soft hyphen, ZWNJ, ZWJ, word joiner, BOM.
const IGNORABLE = new Set([0x20e3, 0xad, 0x200c, 0x200d, 0x2060, 0xfeff]);
const CONNECTORS = new Set(['-', '_', '/', '&', '\u2010', '\u2011']);
const APOSTROPHES = new Set(["'", '\u2019']);

function computeKind(cp: number): number {
  const ch = String.fromCodePoint(cp);
  if (ch === '.') return K_DOT;
  if (CONNECTORS.has(ch)) return K_CONNECT;
  if (APOSTROPHES.has(ch)) return K_APOS;
  if (IGNORABLE.has(cp) || VARIATION_SELECTOR_RE.test(ch)) return K_IGNORE;
  const wordish = LETTER_OR_NUMBER_RE.test(ch) || MARK_RE.test(ch);
  if (wordish && NOSPACE_RE.test(ch)) return K_NOSPACE;
  if (!wordish) return K_SEP;
  return MARK_RE.test(ch) ? K_MARK : K_WORD;
}

const BMP_KINDS = new Uint8Array(0x10000);

function kindOf(cp: number): number {
  if (cp >= 0x10000) return computeKind(cp);
  let k = BMP_KINDS[cp];
  if (k === 0) {
    k = computeKind(cp);
    BMP_KINDS[cp] = k;
  }
  return k;
}

function isAsciiDigit(cp: number): boolean {
  return cp >= 48 && cp <= 57;
}

// ---------------------------------------------------------------------------------------------------------------
// Units: code points of the normalised text, grouped into units and compounds, in reusable typed arrays.

class Units {
  readonly cp: Int32Array;
  cpLen = 0;
  readonly start: Int32Array;
  readonly end: Int32Array;
  count = 0;
  /** Compounds (trigram sources) as [start, end) ranges of `cp`; parts are stored back to back without connectors. */
  readonly compStart: Int32Array;
  readonly compEnd: Int32Array;
  compounds = 0;
  private inWord = false;
  private inCompound = false;

  readonly maxChars: number;
  readonly maxUnits: number;

  constructor(maxChars: number, maxUnits: number) {
    this.maxChars = maxChars;
    this.maxUnits = maxUnits;
    this.cp = new Int32Array(maxChars);
    this.start = new Int32Array(maxUnits);
    this.end = new Int32Array(maxUnits);
    this.compStart = new Int32Array(maxUnits);
    this.compEnd = new Int32Array(maxUnits);
  }

  /** Reads `s` (already normalised); stops at the first unit or code point past the caps. */
  read(s: string): void {
    this.cpLen = 0;
    this.count = 0;
    this.compounds = 0;
    this.inWord = false;
    this.inCompound = false;
    for (let i = 0; i < s.length; ) {
      const cp = s.codePointAt(i) as number;
      const next = i + (cp >= 0x10000 ? 2 : 1);
      if (!this.step(cp, kindOf(cp), s, next)) break;
      i = next;
    }
    this.endWord();
    this.endCompound();
  }

  /** One code point; false when a cap is reached. `next` is the index of the following code point in `s`. */
  private step(cp: number, kind: number, s: string, next: number): boolean {
    switch (kind) {
      case K_WORD:
        if (!this.inWord && !this.beginUnit(true)) return false;
        return this.push(cp);
      case K_MARK:
        return this.inWord ? this.push(cp) : true;
      case K_NOSPACE:
        this.endWord();
        this.endCompound();
        if (!this.beginUnit(false) || !this.push(cp)) return false;
        this.endWord();
        return true;
      case K_IGNORE:
        return true;
      case K_DOT:
      case K_CONNECT:
      case K_APOS:
        return this.joiner(cp, kind, s, next);
      default:
        this.endWord();
        this.endCompound();
        return true;
    }
  }

  /** `.`, a connector or an apostrophe: inside a word, a link between words, or a separator (module comment). */
  private joiner(cp: number, kind: number, s: string, next: number): boolean {
    const following = next < s.length ? (s.codePointAt(next) as number) : -1;
    const wordFollows = following >= 0 && kindOf(following) === K_WORD;
    if (!this.inWord || !wordFollows) {
      this.endWord();
      this.endCompound();
      return true;
    }
    if (kind === K_APOS) return true;
    if (kind === K_DOT && isAsciiDigit(this.cp[this.cpLen - 1]) && isAsciiDigit(following)) return this.push(cp);
    this.endWord();
    return true;
  }

  /** Starts a word (which opens a compound unless one is open) or a no-space character. */
  private beginUnit(word: boolean): boolean {
    if (this.count >= this.maxUnits || this.cpLen >= this.maxChars) return false;
    if (word && !this.inCompound) {
      this.compStart[this.compounds] = this.cpLen;
      this.inCompound = true;
    }
    this.start[this.count] = this.cpLen;
    this.inWord = true;
    return true;
  }

  private push(cp: number): boolean {
    if (this.cpLen >= this.maxChars) return false;
    this.cp[this.cpLen++] = cp;
    return true;
  }

  private endWord(): void {
    if (!this.inWord) return;
    this.end[this.count++] = this.cpLen;
    this.inWord = false;
  }

  private endCompound(): void {
    if (!this.inCompound) return;
    this.compEnd[this.compounds++] = this.cpLen;
    this.inCompound = false;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Features.

const P_WORD = 0x77; // 'w'
const P_BIGRAM = 0x62; // 'b'
const P_TRIGRAM = 0x74; // 't'
const COLON = 0x3a;
const SPACE = 0x20;
const BOUNDARY = 0x23; // '#'

function putUtf8(buf: Uint8Array, at: number, cp: number): number {
  if (cp < 0x80) {
    buf[at] = cp;
    return at + 1;
  }
  if (cp < 0x800) {
    buf[at] = 0xc0 | (cp >> 6);
    buf[at + 1] = 0x80 | (cp & 0x3f);
    return at + 2;
  }
  if (cp < 0x10000) {
    buf[at] = 0xe0 | (cp >> 12);
    buf[at + 1] = 0x80 | ((cp >> 6) & 0x3f);
    buf[at + 2] = 0x80 | (cp & 0x3f);
    return at + 3;
  }
  buf[at] = 0xf0 | (cp >> 18);
  buf[at + 1] = 0x80 | ((cp >> 12) & 0x3f);
  buf[at + 2] = 0x80 | ((cp >> 6) & 0x3f);
  buf[at + 3] = 0x80 | (cp & 0x3f);
  return at + 4;
}

function checkPositiveInt(name: string, value: number, max = 0x7fffffff): void {
  if (!Number.isInteger(value) || value < 1 || value > max) {
    throw new RangeError(`${name} must be an integer in [1, ${max}]; got ${value}`);
  }
}

function checkBuckets(numBuckets: number): void {
  checkPositiveInt('numBuckets', numBuckets);
}

export interface TextFeaturizerOptions {
  /** Buckets of the hashing trick (default DEFAULT_TEXT_BUCKETS); bucket ids are in [0, numBuckets). */
  readonly numBuckets?: number;
  /** MurmurHash3 seed (default DEFAULT_TEXT_SEED). */
  readonly seed?: number;
  /** Input cap in UTF-16 units (default MAX_TEXT_CHARS). */
  readonly maxChars?: number;
  /** Unit cap (default MAX_TEXT_UNITS). */
  readonly maxUnits?: number;
}

/** A text's features: distinct bucket ids ascending, and how many features fell in each. */
export interface TextFeatures {
  readonly buckets: Int32Array;
  readonly counts: Int32Array;
}

/** What a manifest records so that readers (queries at search time) can check they hash the same way. */
export interface TextFeaturizerSpec {
  readonly version: string;
  readonly hash: 'murmur3_x86_32';
  readonly seed: number;
  readonly num_buckets: number;
  readonly max_chars: number;
  readonly max_units: number;
}

/**
 * Featurises texts into reusable buffers: one instance per stream (a catalogue, a query server). Not re-entrant;
 * the views returned by `lastBuckets` and `lastCounts` are overwritten by the next call.
 */
export class TextFeaturizer {
  readonly numBuckets: number;
  readonly seed: number;
  readonly maxChars: number;
  readonly maxUnits: number;
  private readonly units: Units;
  private readonly bytes: Uint8Array;
  /** Every unit's UTF-8 bytes, a space after each (unigramsAndBigrams). */
  private readonly unitBytes: Uint8Array;
  /** numBuckets − 1 when numBuckets is a power of two, else −1. */
  private readonly mask: number;
  private readonly ids: Int32Array;
  private readonly counts: Int32Array;
  /** bitmapDistinct's sets of buckets (numBuckets ≤ BITMAP_MAX_BUCKETS), else null. */
  private readonly bitmap: BucketBitmap | null;
  /** groupDistinct's scratch: the ids by group, each group's next position, and the shift to a group. */
  private readonly sortTmp = new Int32Array(GROUP_SORT_MAX);
  private readonly groupAt = new Int32Array(GROUPS + 1);
  private readonly groupShift: number;
  private n = 0;

  constructor(options: TextFeaturizerOptions = {}) {
    this.numBuckets = options.numBuckets ?? DEFAULT_TEXT_BUCKETS;
    this.seed = options.seed ?? DEFAULT_TEXT_SEED;
    this.maxChars = options.maxChars ?? MAX_TEXT_CHARS;
    this.maxUnits = options.maxUnits ?? MAX_TEXT_UNITS;
    checkBuckets(this.numBuckets);
    if (!Number.isInteger(this.seed) || this.seed < 0 || this.seed > 0xffffffff) {
      throw new RangeError(`seed must be an integer in [0, 2^32 - 1]; got ${this.seed}`);
    }
    checkPositiveInt('maxChars', this.maxChars, 1 << 24);
    checkPositiveInt('maxUnits', this.maxUnits, 1 << 24);
    this.units = new Units(this.maxChars, this.maxUnits);
    // The longest feature is a bigram of two units: 2 + 4 bytes per code point + 1.
    this.bytes = new Uint8Array(4 * this.maxChars + 8);
    this.unitBytes = new Uint8Array(4 * this.maxChars + this.maxUnits + 8);
    this.mask = (this.numBuckets & (this.numBuckets - 1)) === 0 ? this.numBuckets - 1 : -1;
    // Bucket ids are below 2^bits; their top 8 bits name a group.
    this.groupShift = Math.max(0, 32 - Math.clz32(this.numBuckets - 1) - 8);
    // Unigrams + bigrams ≤ 2 × units; trigrams ≤ stored code points.
    this.ids = new Int32Array(2 * this.maxUnits + this.maxChars);
    this.counts = new Int32Array(2 * this.maxUnits + this.maxChars);
    this.bitmap = this.numBuckets <= BITMAP_MAX_BUCKETS ? new BucketBitmap(this.numBuckets, this.ids.length) : null;
  }

  spec(): TextFeaturizerSpec {
    return {
      version: TEXT_FEATURIZER_VERSION,
      hash: 'murmur3_x86_32',
      seed: this.seed,
      num_buckets: this.numBuckets,
      max_chars: this.maxChars,
      max_units: this.maxUnits,
    };
  }

  /** Featurises `text`; returns how many distinct buckets it has, readable through lastBuckets / lastCounts. */
  featurizeInto(text: string): number {
    this.units.read(normalizeText(text, this.maxChars));
    let n = this.unigramsAndBigrams();
    n = this.trigrams(n);
    this.n = this.distinct(n);
    return this.n;
  }

  /** The buckets of the last featurizeInto, ascending (a view into a reused buffer). */
  get lastBuckets(): Int32Array {
    return this.ids.subarray(0, this.n);
  }

  /** Features per bucket of the last featurizeInto (a view into a reused buffer). */
  get lastCounts(): Int32Array {
    return this.counts.subarray(0, this.n);
  }

  /**
   * Writes the last featurizeInto's lists packed, count << bits | bucket, to out[at, at + n) (no view made: a
   * catalogue's featuriser thread packs a million lists); returns the largest count, which the caller checks fits.
   */
  packLast(out: Int32Array, at: number, bits: number): number {
    const ids = this.ids;
    const counts = this.counts;
    let max = 0;
    for (let k = 0; k < this.n; k++) {
      const c = counts[k];
      if (c > max) max = c;
      out[at + k] = (c << bits) | ids[k];
    }
    return max;
  }

  /** Featurises `text` into arrays of its own (for one query at a time, or tests). */
  featurize(text: string): TextFeatures {
    this.featurizeInto(text);
    return { buckets: this.lastBuckets.slice(), counts: this.lastCounts.slice() };
  }

  /** The feature strings of `text` before hashing, in text order with repeats (for debugging and tests). */
  tokens(text: string): string[] {
    const u = this.units;
    u.read(normalizeText(text, this.maxChars));
    const unit = (i: number): string => codePointsToString(u.cp, u.start[i], u.end[i]);
    const out: string[] = [];
    for (let i = 0; i < u.count; i++) {
      out.push(`w:${unit(i)}`);
      if (i > 0) out.push(`b:${unit(i - 1)} ${unit(i)}`);
    }
    for (let c = 0; c < u.compounds; c++) {
      const padded = `#${codePointsToString(u.cp, u.compStart[c], u.compEnd[c])}#`;
      const cps = Array.from(padded);
      for (let j = 0; j + 3 <= cps.length; j++) out.push(`t:${cps[j]}${cps[j + 1]}${cps[j + 2]}`);
    }
    return out;
  }

  /** A hash's bucket: a mask where numBuckets is a power of two (the same value as the remainder, cheaper). */
  private bucket(h: number): number {
    return this.mask >= 0 ? h & this.mask : h % this.numBuckets;
  }

  private hashBytes(length: number): number {
    return this.bucket(murmurUnchecked(this.bytes, this.seed, length));
  }

  /**
   * Unit i's UTF-8 bytes go to unitBytes[unitFrom[i], unitTo[i]), one space after each: so unit i's unigram is
   * `w:` + [unitFrom[i], unitTo[i]) and the bigram of units i − 1 and i is `b:` + [unitFrom[i − 1], unitTo[i]),
   * each unit encoded once and every feature hashed where it lies.
   */
  private unigramsAndBigrams(): number {
    const u = this.units;
    const cp = u.cp;
    const b = this.unitBytes;
    const seed = this.seed;
    let at = 0;
    let n = 0;
    let prev = 0;
    for (let i = 0; i < u.count; i++) {
      const from = at;
      for (let j = u.start[i], end = u.end[i]; j < end; j++) {
        const c = cp[j];
        if (c < 0x80) b[at++] = c;
        else at = putUtf8(b, at, c);
      }
      this.ids[n++] = this.bucket(murmurPrefixed(P_WORD | (COLON << 8), b, from, at, seed));
      if (i > 0) this.ids[n++] = this.bucket(murmurPrefixed(P_BIGRAM | (COLON << 8), b, prev, at, seed));
      prev = from;
      b[at++] = SPACE;
    }
    return n;
  }

  private trigrams(n: number): number {
    const u = this.units;
    const cp = u.cp;
    const b = this.bytes;
    b[0] = P_TRIGRAM;
    b[1] = COLON;
    for (let c = 0; c < u.compounds; c++) {
      const from = u.compStart[c];
      const to = u.compEnd[c];
      // Trigram j covers padded positions j..j+2, where position 0 and to-from+1 are the boundary marker.
      for (let j = from - 1; j < to - 1; j++) {
        const c0 = j < from ? BOUNDARY : cp[j];
        const c1 = cp[j + 1];
        const c2 = j + 2 >= to ? BOUNDARY : cp[j + 2];
        if ((c0 | c1 | c2) < 0x80) {
          this.ids[n++] = this.bucket(asciiTrigramHash(c0, c1, c2, this.seed));
          continue;
        }
        const at = putUtf8(b, putUtf8(b, putUtf8(b, 2, c0), c1), c2);
        this.ids[n++] = this.hashBytes(at);
      }
    }
    return n;
  }

  /** Sorts the first `n` bucket ids and folds repeats into counts, in place. */
  private distinct(n: number): number {
    if (n === 0) return 0;
    const ids = this.ids;
    if (n > GROUP_SORT_MIN && this.bitmap !== null) return this.bitmap.distinct(ids, this.counts, n);
    if (n > GROUP_SORT_MIN && n <= GROUP_SORT_MAX) return this.groupDistinct(n);
    // A long text's ids sort faster in the builtin (numeric for typed arrays), subarray included; a query's few
    // ids do not pay for the subarray.
    if (n > GROUP_SORT_MAX) ids.subarray(0, n).sort();
    else sortInts(ids, 0, n - 1);
    let m = 0;
    for (let i = 0; i < n; i++) {
      if (m > 0 && ids[m - 1] === ids[i]) {
        this.counts[m - 1]++;
      } else {
        ids[m] = ids[i];
        this.counts[m++] = 1;
      }
    }
    return m;
  }

  /**
   * distinct for a title's ~80 ids: one counting pass by the top 8 bits of the bucket range puts them in 256 ordered
   * groups (a title's ids spread about one to a group), an insertion sort orders them within their groups, and
   * repeats fold into counts as they are copied back. About a third of the builtin sort's time at this size.
   */
  private groupDistinct(n: number): number {
    const ids = this.ids;
    const tmp = this.sortTmp;
    const at = this.groupAt;
    const shift = this.groupShift;
    at.fill(0);
    for (let i = 0; i < n; i++) at[(ids[i] >>> shift) + 1]++;
    for (let g = 1; g <= GROUPS; g++) at[g] += at[g - 1];
    for (let i = 0; i < n; i++) {
      const v = ids[i];
      tmp[at[v >>> shift]++] = v;
    }
    // Ordered by group already: an element moves back only past others of its own group.
    for (let i = 1; i < n; i++) {
      const v = tmp[i];
      let j = i - 1;
      while (j >= 0 && tmp[j] > v) {
        tmp[j + 1] = tmp[j];
        j--;
      }
      tmp[j + 1] = v;
    }
    let m = 0;
    for (let i = 0; i < n; i++) {
      const v = tmp[i];
      if (m > 0 && ids[m - 1] === v) this.counts[m - 1]++;
      else {
        ids[m] = v;
        this.counts[m++] = 1;
      }
    }
    return m;
  }
}

/**
 * Bucket bitmaps up to this many buckets (128 KiB of bits and 4 KiB of summaries per featuriser); more buckets
 * take groupDistinct and the builtin sort.
 */
const BITMAP_MAX_BUCKETS = 1 << 20;

/**
 * The distinct buckets of a list of ids, ascending, without comparing them: each id sets its bit in a bitmap of the
 * bucket range (`bits`), and its word's bit in a summary of the words (`words`), and that word's in a summary of the
 * summaries (`groups`); the set bits are then read back in order, top level first, each word cleared as it is read,
 * so the next list starts from empty bitmaps. An id whose bit is set already is a repeat: it is noted and, once the
 * distinct ids are out, counted by a binary search. For a title's ~80 ids about 0.6 of groupDistinct's time (its
 * insertion sort and group counts mispredict branches; here a list costs its ids and ~3 short loops a level).
 */
class BucketBitmap {
  private readonly bits: Int32Array;
  private readonly words: Int32Array;
  private readonly groups: Int32Array;
  private readonly repeats: Int32Array;

  constructor(numBuckets: number, maxIds: number) {
    this.bits = new Int32Array(Math.ceil(numBuckets / 32));
    this.words = new Int32Array(Math.ceil(this.bits.length / 32));
    this.groups = new Int32Array(Math.ceil(this.words.length / 32));
    this.repeats = new Int32Array(maxIds);
  }

  /** Writes the distinct values of ids[0, n) ascending to ids[0, m) and how often each occurs to counts; returns m. */
  distinct(ids: Int32Array, counts: Int32Array, n: number): number {
    const { bits, words, groups, repeats } = this;
    let r = 0;
    for (let i = 0; i < n; i++) {
      const x = ids[i];
      const w = x >>> 5;
      const bit = 1 << (x & 31);
      const old = bits[w];
      if ((old & bit) !== 0) {
        repeats[r++] = x;
        continue;
      }
      bits[w] = old | bit;
      words[w >>> 5] |= 1 << (w & 31);
      groups[w >>> 10] |= 1 << ((w >>> 5) & 31);
    }
    let m = 0;
    for (let g = 0; g < groups.length; g++) {
      let gw = groups[g];
      if (gw === 0) continue;
      groups[g] = 0;
      while (gw !== 0) {
        const wi = (g << 5) | (31 - Math.clz32(gw & -gw));
        gw &= gw - 1;
        let ww = words[wi];
        words[wi] = 0;
        while (ww !== 0) {
          const bi = (wi << 5) | (31 - Math.clz32(ww & -ww));
          ww &= ww - 1;
          let bw = bits[bi];
          bits[bi] = 0;
          while (bw !== 0) {
            ids[m] = (bi << 5) | (31 - Math.clz32(bw & -bw));
            counts[m++] = 1;
            bw &= bw - 1;
          }
        }
      }
    }
    for (let k = 0; k < r; k++) counts[lowerBound(ids, m, repeats[k])]++;
    return m;
  }
}

/** The first index of a[0, n) (ascending) whose value is ≥ x. */
function lowerBound(a: Int32Array, n: number, x: number): number {
  let lo = 0;
  let hi = n;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (a[mid] < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Lists of GROUP_SORT_MIN < n ≤ GROUP_SORT_MAX ids go to groupDistinct, longer ones to the builtin sort. */
const GROUP_SORT_MIN = 32;
const GROUP_SORT_MAX = 2048;
/** groupDistinct's groups: the top 8 bits of a bucket id. */
const GROUPS = 256;

/** Ranges up to this long are insertion-sorted: the lists are short, and the builtin sort needs a subarray per call. */
const INSERTION_SORT_MAX = 16;

/** Sorts a[lo..hi] ascending in place: quicksort (median of three) over insertion-sorted short ranges. */
function sortInts(a: Int32Array, lo: number, hi: number): void {
  while (hi - lo >= INSERTION_SORT_MAX) {
    const mid = (lo + hi) >>> 1;
    if (a[mid] < a[lo]) swap(a, mid, lo);
    if (a[hi] < a[lo]) swap(a, hi, lo);
    if (a[hi] < a[mid]) swap(a, hi, mid);
    const pivot = a[mid];
    let i = lo;
    let j = hi;
    while (i <= j) {
      while (a[i] < pivot) i++;
      while (a[j] > pivot) j--;
      if (i <= j) swap(a, i++, j--);
    }
    // Recurse into the smaller side, loop on the larger: the stack stays O(log n) deep.
    if (j - lo < hi - i) {
      sortInts(a, lo, j);
      lo = i;
    } else {
      sortInts(a, i, hi);
      hi = j;
    }
  }
  for (let i = lo + 1; i <= hi; i++) {
    const v = a[i];
    let j = i - 1;
    while (j >= lo && a[j] > v) {
      a[j + 1] = a[j];
      j--;
    }
    a[j + 1] = v;
  }
}

function swap(a: Int32Array, i: number, j: number): void {
  const t = a[i];
  a[i] = a[j];
  a[j] = t;
}

function codePointsToString(cp: Int32Array, from: number, to: number): string {
  let s = '';
  for (let j = from; j < to; j++) s += String.fromCodePoint(cp[j]);
  return s;
}

let sharedFeaturizer: TextFeaturizer | undefined;

/** The featuriser of the last options seen: its buffers (about 300 KiB) are worth keeping between queries. */
function featurizerFor(options: TextFeaturizerOptions = {}): TextFeaturizer {
  const f = sharedFeaturizer;
  if (
    f !== undefined &&
    f.numBuckets === (options.numBuckets ?? DEFAULT_TEXT_BUCKETS) &&
    f.seed === (options.seed ?? DEFAULT_TEXT_SEED) &&
    f.maxChars === (options.maxChars ?? MAX_TEXT_CHARS) &&
    f.maxUnits === (options.maxUnits ?? MAX_TEXT_UNITS)
  ) {
    return f;
  }
  sharedFeaturizer = new TextFeaturizer(options);
  return sharedFeaturizer;
}

/** One text's features (a query at search time), from a featuriser shared with the previous call of the same options. */
export function featurizeText(text: string, options?: TextFeaturizerOptions): TextFeatures {
  return featurizerFor(options).featurize(text);
}

/** The feature strings of `text` before hashing (TextFeaturizer.tokens). */
export function textTokens(text: string, options?: TextFeaturizerOptions): string[] {
  return featurizerFor(options).tokens(text);
}

/** Many texts' features as one list column: text i has buckets[offsets[i], offsets[i + 1]) (Arrow List<Int32>). */
export interface TextFeatureColumn {
  readonly offsets: Int32Array;
  readonly buckets: Int32Array;
  readonly counts: Int32Array;
}

function grow(a: Int32Array, need: number): Int32Array {
  if (need <= a.length) return a;
  const b = new Int32Array(Math.max(need, 2 * a.length));
  b.set(a);
  return b;
}

/** Featurises a stream of texts into one list column, with one featuriser and amortised growth. */
export function featurizeColumn(texts: Iterable<string>, featurizer: TextFeaturizer = new TextFeaturizer()): TextFeatureColumn {
  let offsets: Int32Array = new Int32Array(1024);
  let buckets: Int32Array = new Int32Array(16_384);
  let counts: Int32Array = new Int32Array(16_384);
  let rows = 0;
  let size = 0;
  for (const text of texts) {
    const n = featurizer.featurizeInto(text);
    offsets = grow(offsets, rows + 2);
    buckets = grow(buckets, size + n);
    counts = grow(counts, size + n);
    buckets.set(featurizer.lastBuckets, size);
    counts.set(featurizer.lastCounts, size);
    size += n;
    offsets[++rows] = size;
  }
  return { offsets: offsets.slice(0, rows + 1), buckets: buckets.slice(0, size), counts: counts.slice(0, size) };
}
