import { describe, expect, it } from 'vitest';
import {
  DEFAULT_TEXT_BUCKETS,
  MAX_TEXT_CHARS,
  MAX_TEXT_UNITS,
  TEXT_FEATURIZER_VERSION,
  TextFeaturizer,
  featureBucket,
  featurizeColumn,
  featurizeText,
  murmurhash3String,
  murmurhash3_32,
  normalizeText,
  textTokens,
} from '../../../src/data/text.js';
import { Prng } from '../../../src/util/prng.js';

const words = (text: string): string[] => textTokens(text).filter((t) => t.startsWith('w:')).map((t) => t.slice(2));
const bigrams = (text: string): string[] => textTokens(text).filter((t) => t.startsWith('b:')).map((t) => t.slice(2));
const trigrams = (text: string): string[] => textTokens(text).filter((t) => t.startsWith('t:')).map((t) => t.slice(2));

/** The reference: hash every feature string on its own (TextEncoder's UTF-8), then sort and count in a Map. */
function reference(text: string, numBuckets = DEFAULT_TEXT_BUCKETS, seed = 0): { buckets: number[]; counts: number[] } {
  const tally = new Map<number, number>();
  for (const f of textTokens(text, { numBuckets, seed })) {
    const b = featureBucket(f, numBuckets, seed);
    tally.set(b, (tally.get(b) ?? 0) + 1);
  }
  const buckets = [...tally.keys()].sort((a, b) => a - b);
  return { buckets, counts: buckets.map((b) => tally.get(b) ?? 0) };
}

describe('murmurhash3_32', () => {
  // The SMHasher verification vectors for MurmurHash3_x86_32, as collected in the reference implementations' tests.
  const bytes = (...b: number[]): Uint8Array => Uint8Array.from(b);
  it.each([
    [bytes(), 0, 0],
    [bytes(), 1, 0x514e28b7],
    [bytes(), 0xffffffff, 0x81f16f39],
    [bytes(0xff, 0xff, 0xff, 0xff), 0, 0x76293b50],
    [bytes(0x21, 0x43, 0x65, 0x87), 0, 0xf55b516b],
    [bytes(0x21, 0x43, 0x65, 0x87), 0x5082edee, 0x2362f9de],
    [bytes(0x21, 0x43, 0x65), 0, 0x7e4a8634],
    [bytes(0x21, 0x43), 0, 0xa0f7b07a],
    [bytes(0x21), 0, 0x72661cf4],
    [bytes(0, 0, 0, 0), 0, 0x2362f9de],
    [bytes(0, 0, 0), 0, 0x85f0b427],
    [bytes(0, 0), 0, 0x30f4c306],
    [bytes(0), 0, 0x514e28b7],
  ])('matches the published vector %#', (input, seed, expected) => {
    expect(murmurhash3_32(input, seed)).toBe(expected);
  });

  it.each([
    ['Hello, world!', 1234, 0xfaf6cdb3],
    ['The quick brown fox jumps over the lazy dog', 0, 0x2e4ff723],
    ['aaaa', 0x9747b28c, 0x5a97808a],
    ['abc', 0x9747b28c, 0xc84a62dd],
    ['Hello, world!', 0x9747b28c, 0x24884cba],
    ['The quick brown fox jumps over the lazy dog', 0x9747b28c, 0x2fa826cd],
    ['ππππππππ', 0x9747b28c, 0xd58063c1],
  ])('hashes the UTF-8 bytes of %j (seed %i) to the published value', (text, seed, expected) => {
    expect(murmurhash3String(text, seed)).toBe(expected);
  });

  it('hashes only the first `length` bytes', () => {
    const b = new TextEncoder().encode('The quick brown fox');
    for (let k = 0; k <= b.length; k++) expect(murmurhash3_32(b, 7, k)).toBe(murmurhash3_32(b.slice(0, k), 7));
    expect(() => murmurhash3_32(b, 0, b.length + 1)).toThrow(RangeError);
  });
});

describe('normalizeText', () => {
  it('turns HTML tags into spaces and leaves a lone < as text', () => {
    expect(normalizeText('<b>Fast</b><br/>Charger<p class="x">2m</p>')).toBe(' fast  charger 2m ');
    expect(normalizeText('<!DOCTYPE html>a < b > c')).toBe(' a < b > c');
  });

  it('decodes the common entities, numeric ones and double-encoded ones', () => {
    expect(normalizeText('Tom &amp; Jerry &lt;3 &quot;x&quot; it&#39;s&nbsp;ok')).toBe('tom & jerry <3 "x" it\'s ok');
    expect(normalizeText('&#65;&#x42;&#X63;')).toBe('abc');
    expect(normalizeText('Salt &amp;amp; Pepper')).toBe('salt & pepper');
    // Not characters: a space; unknown names: left as written.
    expect(normalizeText('a&#0;b&#xD800;c&#1114112;d')).toBe('a b c d');
    expect(normalizeText('&bogus; &amp')).toBe('&bogus; &amp');
  });

  it('applies NFKC and lower-cases', () => {
    expect(normalizeText('ＵＳＢ－Ｃ　ケーブル')).toBe('usb-c ケーブル');
    expect(normalizeText('ｶﾞｲﾄﾞ')).toBe('ガイド');
    expect(normalizeText('CAFE\u0301')).toBe('café');
    expect(normalizeText('Café')).toBe(normalizeText('Cafe\u0301'));
    expect(normalizeText('ÉCOLE')).toBe('école');
    expect(normalizeText('ΣΟΦΙΑ')).toBe('σοφια');
    // Locale-independent: the Turkish dotted capital I keeps its dot as a combining mark, I becomes i.
    expect(normalizeText('İSTANBUL IŞIK')).toBe('i\u0307stanbul işik');
    expect(normalizeText('①㎏')).toBe('1kg');
  });

  it('drops ™ and ℠ instead of spelling them out', () => {
    expect(normalizeText('Nike™ Air')).toBe('nike  air');
    expect(words('Nike™ Air ®')).toEqual(['nike', 'air']);
  });

  it('cuts the input at maxChars without splitting a surrogate pair', () => {
    expect(normalizeText('abcdef', 3)).toBe('abc');
    expect(normalizeText('ab😀c', 3)).toBe('ab');
    expect(normalizeText('ab😀c', 4)).toBe('ab😀');
  });

  it('refuses a non-string', () => {
    expect(() => normalizeText(42 as unknown as string)).toThrow(/text must be a string; got number/);
  });
});

describe('textTokens', () => {
  it('gives the hand-worked features of a hyphenated title', () => {
    expect(textTokens('USB-C Cable')).toEqual([
      'w:usb', 'w:c', 'b:usb c', 'w:cable', 'b:c cable',
      't:#us', 't:usb', 't:sbc', 't:bc#', 't:#ca', 't:cab', 't:abl', 't:ble', 't:le#',
    ]);
  });

  it('lets usb-c, usb c and usbc share features', () => {
    const a = new Set(textTokens('usb-c'));
    expect(textTokens('usb c').filter((t) => !t.startsWith('t:')).every((t) => a.has(t))).toBe(true);
    expect(trigrams('usbc')).toEqual(trigrams('usb-c'));
  });

  it('keeps decimals, 4k and v2.0 as words and splits 1,5', () => {
    expect(words('1.5m 4K v2.0 3.5mm 1,5 l')).toEqual(['1.5m', '4k', 'v2.0', '3.5mm', '1', '5', 'l']);
    expect(trigrams('1.5')).toEqual(['#1.', '1.5', '.5#']);
    expect(words('end. 2.')).toEqual(['end', '2']);
  });

  it('drops apostrophes inside words', () => {
    expect(words("Men's L'Oréal rock 'n' roll")).toEqual(['mens', 'loréal', 'rock', 'n', 'roll']);
    expect(words('men’s')).toEqual(['mens']);
  });

  it('pads each word with # for its trigrams, a one-letter word included', () => {
    expect(trigrams('a ab abc')).toEqual(['#a#', '#ab', 'ab#', '#ab', 'abc', 'bc#']);
  });

  it('splits Chinese into character unigrams and bigrams', () => {
    expect(textTokens('苹果手机壳')).toEqual([
      'w:苹', 'w:果', 'b:苹 果', 'w:手', 'b:果 手', 'w:机', 'b:手 机', 'w:壳', 'b:机 壳',
    ]);
  });

  it('handles a mixed Latin and Chinese title', () => {
    expect(words('iPhone 15 手机壳 透明')).toEqual(['iphone', '15', '手', '机', '壳', '透', '明']);
    expect(bigrams('iPhone 15 手机壳 透明')).toEqual(['iphone 15', '15 手', '手 机', '机 壳', '壳 透', '透 明']);
    expect(trigrams('iPhone 15 手机壳 透明')).toEqual(['#ip', 'iph', 'pho', 'hon', 'one', 'ne#', '#15', '15#']);
    // No space between scripts still separates them.
    expect(words('iPhone15手机壳')).toEqual(['iphone15', '手', '机', '壳']);
  });

  it('reads CJK punctuation as separators and full-width Latin as Latin in mixed text', () => {
    // （ ） ， 。 are punctuation: they end words, and bigrams pair the units on either side as across a space.
    expect(words('华为 P30 Pro（黑色），包邮。')).toEqual(['华', '为', 'p30', 'pro', '黑', '色', '包', '邮']);
    expect(bigrams('Pro（黑色）')).toEqual(['pro 黑', '黑 色']);
    // NFKC: ＵＳＢ－Ｃ is usb-c, a compound with the trigrams of usbc; 2m stays one word.
    expect(textTokens('ＵＳＢ－Ｃ 充电线 2m')).toEqual([
      'w:usb', 'w:c', 'b:usb c', 'w:充', 'b:c 充', 'w:电', 'b:充 电', 'w:线', 'b:电 线', 'w:2m', 'b:线 2m',
      't:#us', 't:usb', 't:sbc', 't:bc#', 't:#2m', 't:2m#',
    ]);
    // Fractions written with a slash split into words: 3/4" is 3 and 4, trigrams of the compound 34.
    expect(textTokens('水龙头 3/4"').filter((t) => !t.startsWith('b:'))).toEqual(['w:水', 'w:龙', 'w:头', 'w:3', 'w:4', 't:#34', 't:34#']);
  });

  it('handles Japanese kanji, hiragana, katakana with ー, and half-width kana', () => {
    expect(words('WF-1000XM5')).toEqual(['wf', '1000xm5']);
    expect(words('日本の時々')).toEqual(['日', '本', 'の', '時', '々']);
    expect(textTokens('ｹｰｽ')).toEqual(textTokens('ケース'));
    expect(textTokens('防水ケース')).toEqual([
      'w:防', 'w:水', 'b:防 水', 'w:ケ', 'b:水 ケ', 'w:ー', 'b:ケ ー', 'w:ス', 'b:ー ス',
    ]);
    expect(words('ソニー WF-1000XM5 ブラック')).toEqual(['ソ', 'ニ', 'ー', 'wf', '1000xm5', 'ブ', 'ラ', 'ッ', 'ク']);
    expect(bigrams('ソニー WF-1000XM5')).toEqual(['ソ ニ', 'ニ ー', 'ー wf', 'wf 1000xm5']);
  });

  it('treats Thai as a script without spaces', () => {
    expect(words('ไทย')).toEqual(['ไ', 'ท', 'ย']);
    expect(bigrams('ไทย')).toEqual(['ไ ท', 'ท ย']);
  });

  it('reads spaced scripts with combining marks as words', () => {
    expect(words('Привет мир')).toEqual(['привет', 'мир']);
    expect(words('हिन्दी किताब')).toEqual(['हिन्दी', 'किताब']);
    expect(words('한국어 키보드')).toEqual(['한국어', '키보드']);
  });

  it('treats emoji and symbols as separators and ignores variation selectors', () => {
    expect(words('Love❤️it 👍🏽 great!!! 👨‍👩‍👧 ★★★ $5')).toEqual(['love', 'it', 'great', '5']);
    expect(words('1️⃣ pack')).toEqual(['1', 'pack']);
    expect(words('wire\u00adless')).toEqual(['wireless']);
  });

  it('gives nothing for empty, whitespace-only and punctuation-only text', () => {
    for (const text of ['', '   \t\n ', '!!! ... --- ///', '<br/>&nbsp;', '😀😀']) {
      expect(textTokens(text)).toEqual([]);
      expect(featurizeText(text).buckets).toHaveLength(0);
    }
  });
});

describe('TextFeaturizer', () => {
  const samples = [
    'USB-C Cable 1.5m, 4K <b>Fast</b> &amp; cheap',
    '苹果手机壳 iPhone 15 Pro Max 透明 防摔',
    'ソニー ワイヤレスイヤホン WF-1000XM5 ブラック',
    "L'Oréal Paris Men Expert 😀 Hydra Energetic — 50 ml",
    'café café cafe\u0301 CAFÉ',
    '𝐁𝐨𝐥𝐝 𝔉𝔯𝔞𝔨𝔱𝔲𝔯 𠀀𠀁 text',
  ];

  it('equals hashing each feature string on its own, sorted and counted', () => {
    for (const text of samples) {
      const got = featurizeText(text);
      const want = reference(text);
      expect(Array.from(got.buckets)).toEqual(want.buckets);
      expect(Array.from(got.counts)).toEqual(want.counts);
    }
  });

  it('agrees with the reference on random Unicode text', () => {
    const rng = Prng.fromSeed(21, 'text-fuzz');
    const ranges: [number, number][] = [
      [0x20, 0x7e], [0xc0, 0x24f], [0x300, 0x36f], [0x3040, 0x30ff], [0x4e00, 0x4e80], [0xe00, 0xe5b],
      [0x2000, 0x206f], [0xff01, 0xff5e], [0x1f300, 0x1f64f], [0x1d400, 0x1d4ff], [0x20000, 0x20010],
    ];
    const f = new TextFeaturizer({ numBuckets: 1009, seed: 5 });
    for (let t = 0; t < 200; t++) {
      let text = '';
      const len = Math.floor(rng.next() * 40);
      for (let i = 0; i < len; i++) {
        const [lo, hi] = ranges[Math.floor(rng.next() * ranges.length)];
        text += rng.next() < 0.2 ? ' ' : String.fromCodePoint(lo + Math.floor(rng.next() * (hi - lo + 1)));
      }
      const got = f.featurize(text);
      const want = reference(text, 1009, 5);
      expect(Array.from(got.buckets), JSON.stringify(text)).toEqual(want.buckets);
      expect(Array.from(got.counts)).toEqual(want.counts);
    }
  });

  it('agrees with the reference on a long text with thousands of features', () => {
    const rng = Prng.fromSeed(21, 'long-text');
    const vocab = ['usb', 'c', 'cable', '1.5m', '手机', '壳', 'café', 'x', 'wireless', 'charger', 'ケース'];
    const text = Array.from({ length: 800 }, () => vocab[Math.floor(rng.next() * vocab.length)]).join(' ');
    const got = new TextFeaturizer({ numBuckets: 5000 }).featurize(text);
    const want = reference(text, 5000);
    expect(got.buckets.length).toBeGreaterThan(100);
    expect(Array.from(got.buckets)).toEqual(want.buckets);
    expect(Array.from(got.counts)).toEqual(want.counts);
  });

  it('agrees with the reference for words of every length and lists of every size the sorts take', () => {
    // Unigrams and bigrams are hashed in place behind their prefix (1 to 9 bytes past it covers every tail), and the
    // distinct buckets come from the small sort (≤ 32 features), then the bitmaps (≤ 2^20 buckets) or, past 2^20
    // buckets, the grouped sort (≤ 2,048) or the builtin one; a bucket count of 1 or 7 puts every id in one word.
    const rng = Prng.fromSeed(21, 'list-sizes');
    const letters = 'abcdeé手x';
    const word = (): string => Array.from({ length: 1 + Math.floor(rng.next() * 9) }, () => letters[Math.floor(rng.next() * letters.length)]).join('');
    for (const numBuckets of [DEFAULT_TEXT_BUCKETS, 1 << 20, (1 << 20) + 1, 1 << 22, 1009, 7, 1]) {
      const f = new TextFeaturizer({ numBuckets, seed: 3 });
      for (const n of [1, 2, 3, 5, 8, 12, 40, 150, 400, 700]) {
        const text = Array.from({ length: n }, word).join(' ');
        const got = f.featurize(text);
        const want = reference(text, numBuckets, 3);
        expect(Array.from(got.buckets), `${numBuckets} buckets, ${n} words`).toEqual(want.buckets);
        expect(Array.from(got.counts)).toEqual(want.counts);
      }
    }
  });

  it('keeps namespaces apart: the word abc and the trigram abc are different buckets', () => {
    expect(textTokens('abc')).toEqual(['w:abc', 't:#ab', 't:abc', 't:bc#']);
    expect(featurizeText('abc').buckets).toHaveLength(4);
    expect(featureBucket('w:abc')).not.toBe(featureBucket('t:abc'));
    expect(featureBucket('w:ab cd')).not.toBe(featureBucket('b:ab cd'));
  });

  it('puts every bucket in range, ascending and distinct, with counts summing to the features', () => {
    for (const numBuckets of [1, 2, 7, 1000, DEFAULT_TEXT_BUCKETS, 0x7fffffff]) {
      const f = new TextFeaturizer({ numBuckets });
      for (const text of samples) {
        const { buckets, counts } = f.featurize(text);
        for (let i = 0; i < buckets.length; i++) {
          expect(buckets[i]).toBeGreaterThanOrEqual(0);
          expect(buckets[i]).toBeLessThan(numBuckets);
          if (i > 0) expect(buckets[i]).toBeGreaterThan(buckets[i - 1]);
        }
        expect(counts.reduce((a, b) => a + b, 0)).toBe(textTokens(text).length);
      }
    }
    expect(Array.from(new TextFeaturizer({ numBuckets: 1 }).featurize('a b').buckets)).toEqual([0]);
  });

  it('pins bucket ids, so datasets and queries hashed on any machine agree', () => {
    // Any change to the recipe or the hash moves these; a dataset hashed before such a change needs a new version.
    expect(murmurhash3String('w:usb')).toBe(0x1996ef4d);
    expect(featureBucket('w:usb')).toBe(0x1996ef4d % 2 ** 18);
    expect(Array.from(featurizeText('usb-c').buckets)).toEqual([48858, 55407, 87891, 169458, 171988, 192333, 208140]);
    expect(Array.from(featurizeText('手机').buckets)).toEqual(
      ['w:手', 'w:机', 'b:手 机'].map((f) => featureBucket(f)).sort((a, b) => a - b),
    );
  });

  it('depends on the seed', () => {
    const a = featurizeText('wireless charger', { seed: 1 }).buckets;
    const b = featurizeText('wireless charger', { seed: 2 }).buckets;
    expect(Array.from(a)).not.toEqual(Array.from(b));
    expect(Array.from(featurizeText('wireless charger', { seed: 1 }).buckets)).toEqual(Array.from(a));
  });

  it('counts repeated features', () => {
    const { buckets, counts } = featurizeText('red red red');
    const i = Array.from(buckets).indexOf(featureBucket('w:red'));
    expect(counts[i]).toBe(3);
    expect(counts[Array.from(buckets).indexOf(featureBucket('b:red red'))]).toBe(2);
  });

  it('reuses its buffers: featurizeInto exposes views of the last text only', () => {
    const f = new TextFeaturizer();
    const n = f.featurizeInto('long title with many words in it');
    expect(f.lastBuckets).toHaveLength(n);
    const m = f.featurizeInto('short');
    expect(Array.from(f.lastBuckets)).toEqual(Array.from(featurizeText('short').buckets));
    expect(m).toBe(f.lastCounts.length);
  });

  it('survives a 1 MB title by reading at most maxChars and maxUnits', () => {
    const f = new TextFeaturizer();
    const spaced = 'word '.repeat(200_000);
    expect(words(spaced)).toHaveLength(MAX_TEXT_UNITS);
    expect(f.featurize(spaced).buckets.length).toBeGreaterThan(0);
    const oneWord = 'a'.repeat(1 << 20);
    expect(trigrams(oneWord)).toHaveLength(MAX_TEXT_CHARS);
    expect(words('手'.repeat(1 << 20))).toHaveLength(MAX_TEXT_UNITS);
    const tags = '<a'.repeat(1 << 19) + '&amp;'.repeat(1000);
    expect(f.featurize(tags).buckets.length).toBeGreaterThan(0);
    const small = new TextFeaturizer({ maxChars: 10, maxUnits: 2 });
    expect(small.tokens('one two three')).toEqual(['w:one', 'w:two', 'b:one two', 't:#on', 't:one', 't:ne#', 't:#tw', 't:two', 't:wo#']);
    expect(small.tokens('abcdefghijklmnop').filter((t) => t.startsWith('w:'))).toEqual(['w:abcdefghij']);
  });

  it('refuses bad options with a RangeError naming them', () => {
    expect(() => new TextFeaturizer({ numBuckets: 0 })).toThrow(/numBuckets must be an integer in \[1, 2147483647\]; got 0/);
    expect(() => new TextFeaturizer({ numBuckets: 2 ** 31 })).toThrow(RangeError);
    expect(() => new TextFeaturizer({ numBuckets: 1.5 })).toThrow(RangeError);
    expect(() => new TextFeaturizer({ seed: -1 })).toThrow(/seed must be an integer/);
    expect(() => new TextFeaturizer({ maxChars: 0 })).toThrow(/maxChars/);
    expect(() => new TextFeaturizer({ maxUnits: 0.5 })).toThrow(/maxUnits/);
    expect(() => featureBucket('w:a', 0)).toThrow(/numBuckets/);
  });

  it('describes itself for the manifest', () => {
    expect(new TextFeaturizer({ numBuckets: 1024, seed: 3 }).spec()).toEqual({
      version: TEXT_FEATURIZER_VERSION,
      hash: 'murmur3_x86_32',
      seed: 3,
      num_buckets: 1024,
      max_chars: MAX_TEXT_CHARS,
      max_units: MAX_TEXT_UNITS,
    });
  });
});

describe('featurizeColumn', () => {
  it('lays the texts out as one list column', () => {
    const texts = ['usb-c cable', '', '苹果手机壳', 'usb-c cable'];
    const col = featurizeColumn(texts);
    expect(col.offsets).toHaveLength(texts.length + 1);
    expect(col.offsets[0]).toBe(0);
    texts.forEach((text, i) => {
      const want = featurizeText(text);
      expect(Array.from(col.buckets.subarray(col.offsets[i], col.offsets[i + 1]))).toEqual(Array.from(want.buckets));
      expect(Array.from(col.counts.subarray(col.offsets[i], col.offsets[i + 1]))).toEqual(Array.from(want.counts));
    });
    expect(col.buckets).toHaveLength(col.offsets[texts.length]);
  });

  it('grows past its initial buffers', () => {
    const texts = Array.from({ length: 3000 }, (_, i) => `item ${i} wireless charger ${i % 7}`);
    const col = featurizeColumn(texts, new TextFeaturizer({ numBuckets: 4096 }));
    expect(col.offsets).toHaveLength(3001);
    const last = featurizeText(texts[2999], { numBuckets: 4096 }).buckets;
    expect(Array.from(col.buckets.subarray(col.offsets[2999]))).toEqual(Array.from(last));
  });
});
