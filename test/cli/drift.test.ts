import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { rec, tempDir } from './helpers.js';

const DAY = 86_400;
const T = 1_700_000_000;

describe('rec drift through the binary', () => {
  const dir = tempDir('rec-drift-');
  const file = (name: string, lines: string[]): string => {
    const path = join(dir, name);
    writeFileSync(path, `${lines.join('\n')}\n`);
    return path;
  };
  const oldLog = file('old.csv', [`u1,a,view,${T}`, `u1,b,view,${T + 10}`, `u2,a,view,${T + 20}`, `u2,b,buy,${T + 30}`]);
  const newLog = file('new.csv', [`u2,b,view,${T + DAY}`, `u3,c,buy,${T + DAY + 10}`]);
  const cols = ['--columns', 'user=0,item=1,event=2,ts=3'];

  it('prints a table, or one JSON document with --json, and exits 0 within the limits', async () => {
    const table = await rec(['drift', oldLog, newLog, ...cols, '--fail-over', 'new_items=0.6']);
    expect(table.code, table.stderr).toBe(0);
    expect(table.stdout).toMatch(/new_items\s+0\.5000\s+≤ 0\.6000 ok/);
    expect(table.stdout).toMatch(/js_items\s+0\.5000/);
    expect(table.stdout).toMatch(/volume_ratio\s+0\.5000.*rows per day/);
    expect(table.stdout).toMatch(/drift gates passed/);
    const json = await rec(['drift', oldLog, newLog, ...cols, '--json']);
    expect(json.code, json.stderr).toBe(0);
    const doc = JSON.parse(json.stdout) as { metrics: Record<string, number | null>; volume_basis: string; passed: boolean };
    expect(doc.metrics).toMatchObject({ new_users: 0.5, new_items: 0.5, new_user_ids: 1, new_item_ids: 1, top100_overlap: 0.5, js_items: 0.5, volume_ratio: 0.5 });
    expect(doc.metrics.js_events).toBeCloseTo(0.048795, 5);
    expect(doc).toMatchObject({ volume_basis: 'rows_per_day', passed: true });
  });

  it('exit 3 naming the metric, value and limit when a limit is crossed; the JSON is still printed', async () => {
    const r = await rec(['drift', oldLog, newLog, ...cols, '--fail-over', 'js_items=0.2,new_users=0.9', '--fail-under', 'volume_ratio=0.75', '--json']);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/drift gate failed: js_items = 0\.5000 is over the limit 0\.2000/);
    expect(r.stderr).toMatch(/drift gate failed: volume_ratio = 0\.5000 is under the limit 0\.7500/);
    expect(r.stderr).not.toMatch(/new_users/);
    expect((JSON.parse(r.stdout) as { passed: boolean }).passed).toBe(false);
  });

  it('exit 2 for an unknown metric, listing the valid ones, and for a missing input', async () => {
    const r = await rec(['drift', oldLog, newLog, ...cols, '--fail-over', 'js_item=0.2']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/unknown metric "js_item".*new_users, new_items, new_user_ids, new_item_ids, top100_overlap, js_items, js_events, volume_ratio/);
    const missing = await rec(['drift', join(dir, 'nope.csv'), newLog, ...cols]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/OLD .*nope\.csv cannot be read/);
  });
});

describe('a night of data through the binary: synth --drift → per-day logs → prep, append → drift gate', () => {
  const dir = tempDir('rec-night-');
  it('splits a drifting log by day, appends day 2 to day 1, and stops on day 3 drift', async () => {
    const log = join(dir, 'shop.csv');
    const s = await rec(['synth', '--out', log, '--users', '300', '--items', '200', '--events', '9000', '--days', '3', '--drift', '1', '--seed', '4']);
    expect(s.code, s.stderr).toBe(0);
    expect((await rec(['synth', '--out', join(dir, 'x.csv'), '--drift', '2'])).code).toBe(2);
    const lines = readFileSync(log, 'utf8').trimEnd().split('\n');
    const start = Date.parse('2024-01-01T00:00:00Z') / 1000;
    const days: string[][] = [[], [], []];
    for (const l of lines.slice(1)) days[Math.floor((Number(l.split(',')[4]) - start) / DAY)].push(l);
    const paths = days.map((rows, k) => {
      const p = join(dir, `day${k + 1}.csv`);
      writeFileSync(p, `${lines[0]}\n${rows.join('\n')}\n`);
      return p;
    });
    const d1 = join(dir, 'd1');
    const p1 = await rec(['prep', paths[0], '--out', d1, '--columns', 'user=user_id,item=item_id,event=event,ts=ts', '--event-weights', 'view=1,click=2,cart=3,buy=5', '--split', 'days:0,1']);
    expect(p1.code, p1.stderr).toBe(0);
    const d2 = join(dir, 'd2');
    const p2 = await rec(['prep', paths[1], '--append-to', d1, '--out', d2, '--json']);
    expect(p2.code, p2.stderr).toBe(0);
    const appended = JSON.parse(p2.stdout) as { append: { new_items: number; rows: { added: number } } };
    expect(appended.append.rows.added).toBeGreaterThan(0);
    expect(appended.append.new_items).toBeGreaterThan(0);
    const gate = await rec(['drift', d2, paths[2], '--fail-over', 'js_items=0.05', '--json']);
    expect(gate.code, gate.stderr).toBe(3);
    const doc = JSON.parse(gate.stdout) as { old: { kind: string }; new: { kind: string }; metrics: { js_items: number; new_items: number } };
    expect(doc).toMatchObject({ old: { kind: 'dataset' }, new: { kind: 'log' } });
    expect(doc.metrics.new_items).toBeGreaterThan(0);
  });
});
