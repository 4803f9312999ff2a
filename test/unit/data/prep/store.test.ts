import { describe, expect, it } from 'vitest';
import { arrangeRows, POOL, TEST, TRAIN, WIDE_SCRATCH_ROWS } from '../../../../src/data/prep/order.js';
import { idCounts } from '../../../../src/data/prep/diagnose.js';
import { RowStore } from '../../../../src/data/prep/store.js';
import { Prng } from '../../../../src/util/prng.js';

interface Row {
  user: number;
  item: number;
  value: number;
  ts: number;
  seq: number;
  event: number;
  assign: number;
}

/** A store of `rows` (pushed in seq order) and its one-byte-a-row split state. */
function storeOf(rows: readonly Row[], capacity = 4): { store: RowStore; assign: Uint8Array } {
  const store = new RowStore(true, true, capacity);
  for (const r of rows) {
    store.noteEventCode(r.event);
    store.push(r.user, r.item, r.value, r.ts, r.seq, r.event);
  }
  return { store, assign: Uint8Array.from(rows.map((r) => r.assign)) };
}

/** What arrangeRows must give: (user, ts, seq) order. */
function reference(rows: readonly Row[]): Row[] {
  return [...rows].sort((a, b) => a.user - b.user || a.ts - b.ts || a.seq - b.seq);
}

function arranged(store: RowStore, assign: Uint8Array): Row[] {
  const runs = store.runs;
  const seq = store.seq;
  const events = store.events as Uint8Array | Uint16Array;
  const out: Row[] = [];
  for (let u = 0; u + 1 < runs.length; u++) {
    for (let i = runs[u]; i < runs[u + 1]; i++) {
      out.push({ user: u, item: store.items[i], value: store.valueAt(i), ts: store.tsAt(i), seq: seq[i], event: events[i], assign: assign[i] });
    }
  }
  return out;
}

function randomRows(seed: number, n: number, opts: { msTs: boolean; manyValues: boolean; manyEvents: boolean; gaps: boolean; oneValue?: boolean; bigItems?: boolean }): Row[] {
  const prng = Prng.fromSeed(seed, 'store-test');
  const rows: Row[] = [];
  let seq = 0;
  for (let k = 0; k < n; k++) {
    if (opts.gaps && prng.int(5) === 0) seq += 1 + prng.int(3);
    const second = 1_700_000_000 + prng.int(50);
    rows.push({
      user: prng.int(7),
      item: (opts.bigItems === true ? 1 << 24 : 0) + prng.int(30),
      value: opts.oneValue === true ? 1 : opts.manyValues ? Math.fround(prng.int(1000) / 7) : 1 + prng.int(4),
      ts: second * 1000 + (opts.msTs && k > n / 2 ? prng.int(1000) : 0),
      seq: seq++,
      event: opts.manyEvents ? prng.int(300) : prng.int(4),
      assign: prng.int(3) === 0 ? TEST : POOL,
    });
  }
  return rows;
}

describe('RowStore', () => {
  it('keeps whole-second times as int32 seconds and widens to float64 ms on the first that is not, earlier rows unchanged', () => {
    const store = new RowStore(true, false, 2);
    const times = [1_700_000_000_000, 1_600_000_000_000, 1_700_000_001_000, -86_400_000];
    times.forEach((t, k) => store.push(0, 0, 1, t, k, 0));
    expect(store.tsStorage()).toBeInstanceOf(Int32Array);
    expect(times.map((_, k) => store.tsAt(k))).toEqual(times);
    store.push(0, 0, 1, 1_700_000_000_123, 4, 0);
    expect(store.tsStorage()).toBeInstanceOf(Float64Array);
    expect([0, 1, 2, 3, 4].map((k) => store.tsAt(k))).toEqual([...times, 1_700_000_000_123]);
  });

  it('widens to float64 ms when a time lies beyond ±2^31 s of the first', () => {
    const store = new RowStore(true, false);
    store.push(0, 0, 1, 0, 0, 0);
    store.push(0, 0, 1, 2 ** 31 * 1000, 1, 0);
    expect(store.tsStorage()).toBeInstanceOf(Float64Array);
    expect([store.tsAt(0), store.tsAt(1)]).toEqual([0, 2 ** 31 * 1000]);
  });

  it('stores up to 256 distinct values as one-byte codes, widens at the 257th, and keeps -0 apart from 0', () => {
    const store = new RowStore(false, false, 8);
    const values = [-0, 0, ...Array.from({ length: 254 }, (_, k) => k + 0.5)];
    values.forEach((v, k) => store.push(0, 0, v, 0, k, 0));
    expect(store.valueStorage()).toBeInstanceOf(Uint8Array);
    expect(Object.is(store.valueAt(0), -0)).toBe(true);
    expect(Object.is(store.valueAt(1), 0)).toBe(true);
    store.push(0, 0, 0.1, 0, 256, 0);
    expect(store.valueStorage()).toBeInstanceOf(Float32Array);
    expect(Object.is(store.valueAt(0), -0)).toBe(true);
    expect(values.map((_, k) => store.valueAt(k))).toEqual(values);
    // Values are float32, as the dataset stores them.
    expect(store.valueAt(256)).toBe(Math.fround(0.1));
  });

  it('widens the event column to two bytes at the 257th event code', () => {
    const store = new RowStore(false, true, 4);
    store.push(0, 0, 1, 0, 0, 200);
    expect(store.events).toBeInstanceOf(Uint8Array);
    store.noteEventCode(256);
    store.push(0, 0, 1, 0, 1, 256);
    expect(store.events).toBeInstanceOf(Uint16Array);
    expect([store.events?.[0], store.events?.[1]]).toEqual([200, 256]);
  });

  it('gives seq from the storage index and the lag table before the arrangement', () => {
    const store = new RowStore(false, false);
    const seqs = [0, 1, 4, 5, 6, 10, 11];
    seqs.forEach((s, k) => store.push(k % 2, 0, 1, 0, s, 0));
    expect(seqs.map((_, k) => store.seqOf(k))).toEqual(seqs);
    expect([0, 2, 4, 7, 11, 12].map((s) => store.firstRowFromSeq(s))).toEqual([0, 2, 2, 5, 6, 7]);
    expect(() => store.seq).toThrow(/before the rows were arranged/);
  });
});

describe('arrangeRows', () => {
  const cases = [
    { name: 'narrow columns, no gaps', msTs: false, manyValues: false, manyEvents: false, gaps: false },
    { name: 'seq gaps (rejected rows)', msTs: false, manyValues: false, manyEvents: false, gaps: true },
    { name: 'wide ts, values and events', msTs: true, manyValues: true, manyEvents: true, gaps: true },
    // The all-0 code column stays where it is; events and split states move packed together.
    { name: 'one distinct value', msTs: false, manyValues: false, manyEvents: false, gaps: true, oneValue: true },
    // Item indices past 2^24: no byte column rides in the item column's top byte.
    { name: 'item indices past 2^24', msTs: false, manyValues: false, manyEvents: false, gaps: false, bigItems: true },
  ];
  // The 4-byte scratch (small logs) and the 1-byte scratch with the in-place inversion (past wideLimit).
  for (const [path, wideLimit] of [
    ['wide scratch', WIDE_SCRATCH_ROWS],
    ['narrow scratch', 0],
  ] as const) {
    for (const c of cases) {
      it(`puts every column in (user, ts, seq) order: ${c.name}, ${path}`, () => {
        for (const seed of [1, 2, 3]) {
          const rows = randomRows(seed, 3000, c);
          const { store, assign } = storeOf(rows);
          arrangeRows(store, assign, 7, wideLimit);
          expect(arranged(store, assign)).toEqual(reference(rows));
          expect(() => store.users).toThrow(/after the rows were arranged/);
        }
      });
    }

    it(`moves no row of a log already grouped by user, and still sorts each run by time: ${path}`, () => {
      const rows = randomRows(4, 500, cases[1]).sort((a, b) => a.user - b.user || a.seq - b.seq);
      rows.forEach((r, k) => (r.seq = k * 2));
      const { store, assign } = storeOf(rows);
      arrangeRows(store, assign, 7, wideLimit);
      expect(arranged(store, assign)).toEqual(reference(rows));
    });
  }

  it('gives the same arrangement from rows per user counted beforehand (diagnose.ts idCounts)', () => {
    const rows = randomRows(5, 2000, cases[1]);
    const { store, assign } = storeOf(rows);
    arrangeRows(store, assign, 9, WIDE_SCRATCH_ROWS, idCounts(store.users, store.length, 9));
    expect(arranged(store, assign)).toEqual(reference(rows));
    expect(store.runs[9]).toBe(2000);
  });

  it('keeps a uniform split state and users without rows as empty runs', () => {
    const rows: Row[] = [
      { user: 3, item: 1, value: 1, ts: 5000, seq: 0, event: 0, assign: TRAIN },
      { user: 0, item: 2, value: 2, ts: 9000, seq: 1, event: 1, assign: TRAIN },
      { user: 3, item: 3, value: 3, ts: 1000, seq: 2, event: 2, assign: TRAIN },
    ];
    const { store, assign } = storeOf(rows);
    arrangeRows(store, assign, 5);
    expect(Array.from(store.runs)).toEqual([0, 1, 1, 1, 3, 3]);
    expect(arranged(store, assign)).toEqual(reference(rows));
  });
});
