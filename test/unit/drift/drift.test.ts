import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { prepSchema } from '../../../src/config/schema.js';
import { checkDrift, parseDriftLimits } from '../../../src/drift/gate.js';
import { compareProfiles, jsDivergence, topIds, type Profile } from '../../../src/drift/metrics.js';
import { runDrift } from '../../../src/drift/run.js';
import { UsageError } from '../../../src/util/errors.js';
import { memoryLogger } from '../../../src/util/log.js';
import { noProgress } from '../../../src/util/progress.js';
import { prep } from '../data/prep/helpers.js';

const DAY = 86_400;
const T = 1_700_000_000;
const dir = mkdtempSync(join(tmpdir(), 'rec-drift-test-'));
const file = (name: string, lines: string[]): string => {
  const path = join(dir, name);
  writeFileSync(path, `${lines.join('\n')}\n`);
  return path;
};
// OLD: items a:2, b:2; events view 3, buy 1; users u1, u2; 30 s of data (counts as one day).
const oldLog = file('old.csv', [`u1,a,view,${T}`, `u1,b,view,${T + 10}`, `u2,a,view,${T + 20}`, `u2,b,buy,${T + 30}`]);
// NEW: items b:1, c:1; events view 1, buy 1; u3 and c are new.
const newLog = file('new.csv', [`u2,b,view,${T + DAY}`, `u3,c,buy,${T + DAY + 10}`]);
const io = () => ({ log: memoryLogger('debug'), progress: noProgress });
const columns = prepSchema.parse({ columns: 'user=0,item=1,event=2,ts=3' });

// Hand-computed (see the comments): the values rec drift must print for old.csv → new.csv.
// Items: P = (½, ½, 0), Q = (0, ½, ½), M = (¼, ½, ¼); KL(P‖M) = ½·log2 2 = ½ = KL(Q‖M); JS = ½.
// Events: P = (¾, ¼), Q = (½, ½), M = (⅝, ⅜).
const JS_EVENTS = 0.5 * (0.75 * Math.log2(0.75 / 0.625) + 0.25 * Math.log2(0.25 / 0.375)) + 0.5 * (0.5 * Math.log2(0.5 / 0.625) + 0.5 * Math.log2(0.5 / 0.375));
const EXPECTED = {
  new_users: 0.5,
  new_items: 0.5,
  new_user_ids: 1,
  new_item_ids: 1,
  top100_overlap: 0.5,
  js_items: 0.5,
  volume_ratio: 0.5, // 2 rows / 1 day over 4 rows / 1 day
};

describe('drift metrics', () => {
  it('Jensen–Shannon divergence in bits: 0 for equal, 1 for disjoint, ½ and the event value by hand', () => {
    const m = (o: Record<string, number>) => new Map(Object.entries(o));
    expect(jsDivergence(m({ a: 1, b: 3 }), m({ a: 2, b: 6 }))).toBeCloseTo(0, 12);
    expect(jsDivergence(m({ a: 1 }), m({ b: 5 }))).toBe(1);
    expect(jsDivergence(m({ a: 2, b: 2 }), m({ b: 1, c: 1 }))).toBeCloseTo(0.5, 12);
    expect(jsDivergence(m({ view: 3, buy: 1 }), m({ view: 1, buy: 1 }))).toBeCloseTo(JS_EVENTS, 12);
    expect(JS_EVENTS).toBeCloseTo(0.048795, 5);
    expect(jsDivergence(m({}), m({ a: 1 }))).toBeNull();
  });

  it('top ids by count, ties by id; overlap over the smaller top list', () => {
    expect(topIds(new Map([['b', 2], ['a', 2], ['c', 5]]), 2)).toEqual(['c', 'a']);
    const p = (items: Record<string, number>, rows: number): Profile => ({ source: '', kind: 'log', rows, users: new Map([['u', rows]]), items: new Map(Object.entries(items)), events: null, minTs: null, maxTs: null });
    const r = compareProfiles(p({ a: 3, b: 2, c: 1 }, 6), p({ c: 4, d: 1 }, 5), 2);
    // top2(OLD) = a, b; top2(NEW) = c, d: no overlap. No timestamps: volume is rows.
    expect(r.metrics.top100_overlap).toBe(0);
    expect(r.volume_basis).toBe('rows');
    expect(r.metrics.volume_ratio).toBeCloseTo(5 / 6, 12);
    expect(r.metrics.js_events).toBeNull();
  });

  it('log vs log, and dataset vs log (read with the dataset settings), give the hand-computed numbers', async () => {
    const logs = await runDrift({ old: oldLog, new: newLog, config: columns, limits: [] }, io());
    expect(logs.metrics).toMatchObject(EXPECTED);
    expect(logs.metrics.js_events).toBeCloseTo(JS_EVENTS, 12);
    expect(logs.volume_basis).toBe('rows_per_day');
    expect(logs.old).toMatchObject({ kind: 'log', rows: 4, users: 2, items: 2, events: { buy: 1, view: 3 } });
    const ds = await prep(join(dir, 'ds'), [oldLog], { columns: 'user=0,item=1,event=2,ts=3', split: 'none' });
    // No --columns this time: the log is read with the dataset's.
    const mixed = await runDrift({ old: ds.out, new: newLog, config: prepSchema.parse({}), limits: [] }, io());
    expect(mixed.old.kind).toBe('dataset');
    expect(mixed.metrics).toMatchObject(EXPECTED);
    expect(mixed.metrics.js_events).toBeCloseTo(JS_EVENTS, 12);
    const same = await runDrift({ old: ds.out, new: ds.out, config: prepSchema.parse({}), limits: [] }, io());
    expect(same.metrics).toMatchObject({ new_users: 0, new_items: 0, js_items: 0, js_events: 0, top100_overlap: 1, volume_ratio: 1 });
  });

  it('limits: over and under, unknown metrics and bad values are usage errors, null metrics are not checked', async () => {
    expect(parseDriftLimits(['new_items=0.4,js_items=0.9', 'volume_ratio=2'], 'over')).toEqual([
      { metric: 'new_items', op: 'over', limit: 0.4 },
      { metric: 'js_items', op: 'over', limit: 0.9 },
      { metric: 'volume_ratio', op: 'over', limit: 2 },
    ]);
    expect(() => parseDriftLimits(['new_itmes=0.4'], 'over')).toThrow(UsageError);
    expect(() => parseDriftLimits(['new_itmes=0.4'], 'over')).toThrow(/unknown metric "new_itmes".*one of new_users, new_items, new_user_ids, new_item_ids, top100_overlap, js_items, js_events, volume_ratio/);
    expect(() => parseDriftLimits(['new_items=lots'], 'under')).toThrow(/--fail-under new_items=lots: the limit of new_items is "lots"/);
    const r = await runDrift({ old: oldLog, new: newLog, config: columns, limits: [...parseDriftLimits(['new_items=0.4,js_items=0.5'], 'over'), ...parseDriftLimits(['volume_ratio=0.6'], 'under')] }, io());
    expect(r.checks.map((c) => [c.metric, c.passed])).toEqual([
      ['new_items', false],
      ['js_items', true], // 0.5 is not over 0.5
      ['volume_ratio', false],
    ]);
    expect(r.passed).toBe(false);
    expect(checkDrift({ ...r.metrics, js_events: null }, parseDriftLimits(['js_events=0.1'], 'over'))[0].passed).toBeNull();
  });
});
