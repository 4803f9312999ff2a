import { writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { readCatalogue, type CatalogueRead } from '../../../../src/data/prep/catalogue-read.js';
import type { FeatureSpec } from '../../../../src/data/prep/catalogue-spec.js';
import type { ListStore } from '../../../../src/data/prep/catalogue-store.js';
import { TextFeaturizer } from '../../../../src/data/text.js';
import { tempRoot } from './helpers.js';

// The worker thread runs dist/src/data/prep/text-worker.js: `npm run build` first.
const out = tempRoot();

/** Everything the store holds, slot by slot, as plain values. */
function storeContent(read: CatalogueRead): unknown {
  const { store } = read;
  const columns = store.columns.map((col) => {
    const status = Array.from(col.status.a.subarray(0, col.status.n));
    const lists: unknown[] = [];
    if (col.lists !== null) {
      const l = col.lists as ListStore;
      for (let s = 0; s < store.slots; s++) {
        const values = new Int32Array(l.lengthOf(s));
        const counts = l.withCounts ? new Int32Array(values.length) : null;
        l.copyTo(s, values, counts, 0, null);
        lists.push([Array.from(values), counts === null ? null : Array.from(counts)]);
      }
    }
    return { status, lists, codes: col.codes === null ? null : Array.from(col.codes.a.subarray(0, col.codes.n)), vocab: col.vocab?.values ?? null };
  });
  return { keys: [...store.keys], slots: Array.from(store.slotOfKey.a.subarray(0, store.slotOfKey.n)), columns, read: read.read, rejected: read.rejected, byReason: read.rejectedByReason, duplicates: read.duplicates, conflicting: read.conflicting };
}

function title(i: number): string {
  if (i % 97 === 0) return '';
  if (i % 89 === 0) return '🎉';
  if (i % 83 === 0) return 'a'.repeat(300 + (i % 7));
  return `item ${i} USB-C ${'word'.repeat(1 + (i % 5))} ${String.fromCharCode(0x4e00 + (i % 50))}`;
}

describe('readCatalogue with the text featuriser thread', () => {
  it('stores what the main thread stores: every batch, empty and wordless titles, unpacked lists, duplicates and rejects', async () => {
    const path = `${out()}-cat.csv`;
    const rows = ['id,title,brand,desc'];
    for (let i = 0; i < 5000; i++) {
      rows.push(`p${i % 4500},"${title(i)}",b${i % 13},${i % 11 === 0 ? '' : `desc ${i % 3}`}`);
      if (i % 1000 === 0) rows.push('bad,"unclosed');
    }
    writeFileSync(path, `${rows.join('\n')}\n`);
    const features: FeatureSpec[] = [{ name: 'title', kind: 'text' }, { name: 'brand', kind: 'category' }, { name: 'desc', kind: 'text' }];
    const read = (textWorker: boolean) =>
      readCatalogue([path], 'id', features, { add: () => undefined }, { textWorker, quoted: { maxLines: 1, maxBytes: 1 << 20 }, featurizer: new TextFeaturizer({ numBuckets: 1 << 24 }) });
    const inline = await read(false);
    const threaded = await read(true);
    expect(inline.duplicates).toBe(500);
    expect(inline.rejected).toBeGreaterThan(0);
    expect(storeContent(threaded)).toEqual(storeContent(inline));
    // The main thread featurising every other batch itself, or none, stores the lists in the same order.
    for (const every of ['2', '0']) {
      process.env.REC_TEXT_MAIN_EVERY = every;
      try {
        expect(storeContent(await read(true))).toEqual(storeContent(inline));
      } finally {
        delete process.env.REC_TEXT_MAIN_EVERY;
      }
    }
  });
});

describe('readCatalogue with the text featuriser thread, duplicates', () => {
  it('tells conflicting duplicates apart by the texts the thread hashed, and by long or blank texts hashed here', async () => {
    const path = `${out()}-dups.csv`;
    const long = 'abcdefghij'.repeat(3);
    const rows = [
      ['a', 'red shoe', 'x'],
      ['b', 'red shoe', 'x'],
      ['c', '  ', 'y'],
      ['d', `${long}X`, 'z'],
      ['e', `${long}X`, 'z'],
      ['f', '日本語 🎉', ''],
      ['g', 't', 'desc one'],
      ['h', 't', 'd'],
      ['a', 'red shoe', 'x'],
      ['b', 'red shoes', 'x'],
      ['c', '', 'y'],
      // Differs only past the 20 characters the featuriser reads.
      ['d', `${long}Y`, 'z'],
      ['e', `${long}X`, 'z'],
      ['f', '日本語 🎉', ''],
      ['g', 't', 'desc two'],
      ['h', 't', 'd'],
      ['h', 'u', 'd'],
    ];
    writeFileSync(path, `id,title,desc\n${rows.map((r) => r.map((v) => `"${v}"`).join(',')).join('\n')}\n`);
    const features: FeatureSpec[] = [{ name: 'title', kind: 'text' }, { name: 'desc', kind: 'text' }];
    for (const textWorker of [false, true]) {
      const read = await readCatalogue([path], 'id', features, { add: () => undefined }, { textWorker, featurizer: new TextFeaturizer({ maxChars: 20 }) });
      expect([read.duplicates, read.conflicting], `textWorker ${textWorker}`).toEqual([9, 5]);
    }
  });
});

describe('readCatalogue with the text featuriser thread, stopped', () => {
  it('stops at a signal between chunks while batches are out on the thread', async () => {
    const path = `${out()}-long.csv`;
    writeFileSync(path, `id,title\n${Array.from({ length: 200_000 }, (_, k) => `i${k},title ${k}`).join('\n')}`);
    const controller = new AbortController();
    const read = readCatalogue([path], 'id', [{ name: 'title', kind: 'text' }], { add: () => undefined }, { signal: controller.signal, textWorker: true });
    // Aborted once reading is under way (a few event-loop turns in), not before the first chunk.
    let ticks = 0;
    const timer = setInterval(() => {
      if (++ticks > 1) controller.abort('SIGINT');
    }, 1);
    await expect(read).rejects.toThrow(/rec prep was interrupted; no dataset was written/);
    clearInterval(timer);
  });
});
