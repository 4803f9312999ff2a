/**
 * examples/nightly.sh end to end on a small synthetic shop (rec synth, 8 days): bootstrap on days
 * 0–4, a night that passes its gate (promoted), a rerun of it (nothing changes), a night whose
 * fine-tune is broken on purpose (LR=50: gate fails, exit 3, production unchanged), and a night
 * whose log comes from another system (all user ids new: drift alarm, exit 3 before training); and, in a
 * state folder of its own, nights with the day's catalogue (ITEMS): products launched that day join the dataset.
 */
import { spawn } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, realpathSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { BIN, REPO, rec, tempDir, type RunResult } from './helpers.js';

const SCRIPT = join(REPO, 'examples/nightly.sh');
const dir = tempDir('rec-nightly-');
const state = join(dir, 'nightly');
const production = join(state, 'production');

function nightly(args: string[], env: Record<string, string> = {}, cwd = dir): Promise<RunResult> {
  return new Promise((done, fail) => {
    const child = spawn('bash', [SCRIPT, ...args], {
      cwd,
      env: { ...process.env, CI: 'true', REC_LOG_LEVEL: '', REC: `${process.execPath} ${BIN}`, NIGHTLY_DIR: join(cwd, 'nightly'), BACKEND: 'cpu', TRAIN_ARGS: '--dim 16', BOOTSTRAP_EPOCHS: '8', EPOCHS: '3', LR: '0.002', REPLAY: '0.5', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 170_000);
    child.on('error', fail);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      done({ code, signal, stdout, stderr });
    });
  });
}

/** Every path under the state folder with its size and mtime (links: their target). */
function snapshot(root: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const name of readdirSync(d).sort()) {
      const p = join(d, name);
      const l = lstatSync(p);
      if (l.isSymbolicLink()) out.push(`${p} -> ${realpathSync(p)}`);
      else if (l.isDirectory()) walk(p);
      else out.push(`${p} ${l.size} ${l.mtimeMs}`);
    }
  };
  walk(root);
  return out;
}

/** Users whose first row is on day 4: the bootstrap model saw them only in its test day. */
let dayFourUsers: string[] = [];

beforeAll(async () => {
  const log = join(dir, 'shop.csv');
  const s = await rec(['synth', '--out', log, '--users', '400', '--items', '300', '--events', '12000', '--days', '8', '--seed', '5']);
  expect(s.code, s.stderr).toBe(0);
  const [header, ...rows] = readFileSync(log, 'utf8').trim().split('\n');
  const ts = (line: string) => Number(line.split(',')[4]);
  const t0 = Math.min(...rows.map(ts));
  const days: string[][] = Array.from({ length: 8 }, () => []);
  for (const line of rows) days[Math.floor((ts(line) - t0) / 86_400)].push(line);
  const write = (name: string, lines: string[]) => writeFileSync(join(dir, name), `${header}\n${lines.join('\n')}\n`);
  write('history.csv', days.slice(0, 5).flat());
  for (const d of [5, 6]) write(`day${d}.csv`, days[d]);
  // Another system's export: same shop, but every user id is foreign.
  write('day7.csv', days[7].map((line) => `x${line}`));
  const before = new Set(days.slice(0, 4).flatMap((d) => d.map((line) => line.split(',')[0])));
  dayFourUsers = [...new Set(days[4].map((line) => line.split(',')[0]))].filter((u) => !before.has(u));
}, 180_000);

describe('examples/nightly.sh', () => {
  it('bootstraps, then a night with a passing gate fine-tunes production and promotes it; users first seen in the new rows are warm', async () => {
    const boot = await nightly(['history.csv']);
    expect(boot.code, boot.stderr).toBe(0);
    expect(realpathSync(production)).toBe(realpathSync(join(state, 'checkpoints/history')));

    const night = await nightly(['day5.csv']);
    expect(night.code, night.stderr).toBe(0);
    expect(night.stderr).toMatch(/--replay 0\.5: training on the \d+ rows after/);
    expect(night.stdout).toMatch(/quality gates passed/);
    expect(realpathSync(production)).toBe(realpathSync(join(state, 'checkpoints/day5')));
    const run = JSON.parse(readFileSync(join(state, 'checkpoints/day5/run.json'), 'utf8')) as { parents: { path: string }[]; fine_tune: { users: { added: number } } };
    // The parent is recorded as the checkpoint production pointed at, not as the link.
    expect(run.parents[0].path).toBe(realpathSync(join(state, 'checkpoints/history')));
    expect(run.fine_tune.users.added).toBeGreaterThan(0);
    // Production never trained on users first seen on day 4: the gate compared the two on the users both evaluate.
    const gate = JSON.parse(readFileSync(join(state, 'checkpoints/day5/eval-test-full.json'), 'utf8')) as {
      gates: { passed: boolean };
      users: { evaluated: number };
      baseline: { pointer: string; compared: { users: number; only_checkpoint: number; only_baseline: number; relevant_missed: { checkpoint: number; baseline: number } } };
    };
    expect(gate.gates.passed).toBe(true);
    expect(gate.baseline.pointer).toBe(production);
    expect(gate.baseline.compared.only_checkpoint).toBeGreaterThan(0);
    expect(gate.baseline.compared.users + gate.baseline.compared.only_checkpoint).toBe(gate.users.evaluated);
    // Production cannot rank what it never trained on; the candidate knows production's whole catalogue.
    expect(gate.baseline.compared.relevant_missed.checkpoint).toBe(0);

    expect(dayFourUsers.length).toBeGreaterThan(0);
    const user = dayFourUsers[0];
    const warm = await rec(['recommend', production, '--user', user, '--k', '5', '--json', '--backend', 'cpu']);
    expect(warm.code, warm.stderr).toBe(0);
    expect(JSON.parse(warm.stdout).recommendations[0]).toMatchObject({ user, cold: false });
    const stale = await rec(['recommend', join(state, 'checkpoints/history'), '--user', user, '--k', '5', '--json', '--backend', 'cpu']);
    expect(JSON.parse(stale.stdout).recommendations[0]).toMatchObject({ user, cold: true });
  }, 180_000);

  it('a rerun of the same night changes nothing (exit 0)', async () => {
    const before = snapshot(state);
    const again = await nightly(['day5.csv']);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr).toMatch(/already in the current dataset/);
    expect(again.stderr).toMatch(/nothing to do/);
    expect(snapshot(state)).toEqual(before);
  }, 180_000);

  it('a night whose fine-tune fails the gate exits 3 and leaves production unchanged', async () => {
    const history = readFileSync(join(state, 'promotions.jsonl'), 'utf8');
    const bad = await nightly(['day6.csv'], { LR: '50' });
    expect(bad.code, bad.stderr).toBe(3);
    // The default gate, worded in its own unit: a share of production's ndcg@20.
    expect(bad.stderr).toMatch(/quality gate failed: ndcg@20 0\.\d{4} vs baseline 0\.\d{4}: dropped \d+\.\d% \(allowed 20%\) \(--max-drop\)/);
    expect(bad.stderr).toMatch(/production stays checkpoints\/day5/);
    expect(realpathSync(production)).toBe(realpathSync(join(state, 'checkpoints/day5')));
    expect(readFileSync(join(state, 'promotions.jsonl'), 'utf8')).toBe(history);
    // A rerun evaluates the same checkpoint again, without training it again, and fails the same way.
    const rerun = await nightly(['day6.csv']);
    expect(rerun.code, rerun.stderr).toBe(3);
    expect(rerun.stderr).toMatch(/already trained \(completed\)/);
    expect(realpathSync(production)).toBe(realpathSync(join(state, 'checkpoints/day5')));
    // An older night run again after a later one was accepted does nothing (no demotion).
    const older = await nightly(['day5.csv']);
    expect(older.code, older.stderr).toBe(0);
    expect(older.stderr).toMatch(/accepted after this night/);
    // rec promote itself refuses it too.
    const promote = await rec(['promote', join(state, 'checkpoints/day6'), '--to', state]);
    expect(promote.code).toBe(3);
    expect(realpathSync(production)).toBe(realpathSync(join(state, 'checkpoints/day5')));
  }, 180_000);

  it('a log with a drift alarm exits 3 before training: no dataset, no checkpoint, production unchanged', async () => {
    const current = realpathSync(join(state, 'current'));
    const drift = await nightly(['day7.csv']);
    expect(drift.code, drift.stderr).toBe(3);
    expect(drift.stderr).toMatch(/new_users/);
    expect(drift.stderr).toMatch(/drift alarm/);
    expect(existsSync(join(state, 'data/day7'))).toBe(false);
    expect(existsSync(join(state, 'checkpoints/day7'))).toBe(false);
    expect(realpathSync(join(state, 'current'))).toBe(current);
    expect(realpathSync(production)).toBe(realpathSync(join(state, 'checkpoints/day5')));
    expect(statSync(SCRIPT).mode & 0o111).not.toBe(0);
  }, 180_000);
});

describe('examples/nightly.sh with the night\'s catalogue (ITEMS)', () => {
  const cdir = tempDir('rec-nightly-items-');
  const FEATURES = 'title:text,brand:category,categories:multi,price:number';
  interface Item {
    item: string;
    launched: string;
  }
  let items: Item[] = [];
  const logItems: Set<string>[] = [];

  beforeAll(async () => {
    const log = join(cdir, 'shop.csv');
    const s = await rec(['synth', '--out', log, '--users', '400', '--items', '300', '--events', '12000', '--days', '8', '--seed', '5', '--new-items', '0.3', '--catalogue']);
    expect(s.code, s.stderr).toBe(0);
    items = readFileSync(join(cdir, 'items.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Item);
    const [header, ...rows] = readFileSync(log, 'utf8').trim().split('\n');
    const t0 = Date.parse('2024-01-01T00:00:00Z') / 1000;
    const days: string[][] = Array.from({ length: 8 }, () => []);
    for (const line of rows) days[Math.floor((Number(line.split(',')[4]) - t0) / 86_400)].push(line);
    const write = (name: string, lines: string[]) => writeFileSync(join(cdir, name), `${header}\n${lines.join('\n')}\n`);
    write('history.csv', days.slice(0, 5).flat());
    write('day5.csv', days[5]);
    logItems.push(new Set(days.slice(0, 5).flat().map((line) => line.split(',')[1])), new Set(days[5].map((line) => line.split(',')[1])));
    // Each night's export lists the products launched by then; day 5's also lists those launching on day 6.
    const catalogue = (name: string, last: string) =>
      writeFileSync(join(cdir, name), items.filter((x) => x.launched <= last).map((x) => JSON.stringify(x)).join('\n') + '\n');
    catalogue('history.items.jsonl', '2024-01-05');
    catalogue('day5.items.jsonl', '2024-01-07');
  }, 180_000);

  it('a product launched today is in tonight\'s dataset with its features, and one announced for tomorrow before its first row', async () => {
    const env = { ITEM_FEATURES: FEATURES };
    const missing = await nightly(['history.csv'], { ...env, ITEMS: join(cdir, 'nope.jsonl') }, cdir);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/ITEMS=.*nope\.jsonl is not a file/);
    const boot = await nightly(['history.csv'], { ...env, ITEMS: join(cdir, 'history.items.jsonl') }, cdir);
    expect(boot.code, boot.stderr).toBe(0);
    const night = await nightly(['day5.csv'], { ...env, ITEMS: join(cdir, 'day5.items.jsonl') }, cdir);
    expect(night.code, night.stderr).toBe(0);
    type Manifest = { items: number; catalogue: { features: Record<string, string>; rows: { items: number }; append: { base_items: number } | null; catalogue_only_items: number; log_items_without_row: number } };
    const manifest = (night: string) => JSON.parse(readFileSync(join(cdir, 'nightly/data', night, 'manifest.json'), 'utf8')) as Manifest;
    const base = manifest('history');
    const after = manifest('day5');
    expect(realpathSync(join(cdir, 'nightly/current'))).toBe(realpathSync(join(cdir, 'nightly/data/day5')));
    const launchedToday = items.filter((x) => x.launched === '2024-01-06');
    const tomorrow = items.filter((x) => x.launched === '2024-01-07');
    const tonight = items.filter((x) => x.launched <= '2024-01-07');
    expect(launchedToday.length).toBeGreaterThan(0);
    expect(tomorrow.length).toBeGreaterThan(0);
    expect(base.items).toBe(tonight.length - launchedToday.length - tomorrow.length);
    // Every product of tonight's export is an item of tonight's dataset: yesterday's, today's and tomorrow's launches.
    expect(after.catalogue.rows.items).toBe(tonight.length);
    expect(after.catalogue.append?.base_items).toBe(base.items);
    expect(after.items - base.items).toBe(launchedToday.length + tomorrow.length);
    expect(after.catalogue.features).toEqual({ title: 'text', brand: 'category', categories: 'multi', price: 'number' });
    expect(after.catalogue.log_items_without_row).toBe(0);
    const inLog = (id: string) => logItems[0].has(id) || logItems[1].has(id);
    expect(after.catalogue.catalogue_only_items).toBe(tonight.filter((x) => !inLog(x.item)).length);
    // Today's launches have their first rows in the night's log; tomorrow's come with the catalogue alone.
    expect(launchedToday.some((x) => logItems[1].has(x.item))).toBe(true);
    expect(tomorrow.every((x) => !inLog(x.item))).toBe(true);
    expect(realpathSync(join(cdir, 'nightly/production'))).toBe(realpathSync(join(cdir, 'nightly/checkpoints/day5')));
  }, 360_000);
});

describe("examples/nightly.sh on a warehouse's day partitions (Parquet)", () => {
  it('bootstraps from a folder of dt= partitions, then takes one dt= folder as the night; a rerun is nothing to do', async () => {
    const pdir = tempDir('rec-nightly-pq-');
    const s = await rec(['synth', '--out', join(pdir, 'events'), '--format', 'parquet', '--users', '300', '--items', '200', '--events', '8000', '--days', '6', '--seed', '5']);
    expect(s.code, s.stderr).toBe(0);
    const days = readdirSync(join(pdir, 'events')).sort();
    expect(days).toEqual(['dt=2024-01-01', 'dt=2024-01-02', 'dt=2024-01-03', 'dt=2024-01-04', 'dt=2024-01-05', 'dt=2024-01-06']);
    // History: the first five partitions, in a table folder of their own; the sixth is tonight's.
    mkdirSync(join(pdir, 'history'));
    for (const d of days.slice(0, 5)) renameSync(join(pdir, 'events', d), join(pdir, 'history', d));
    const boot = await nightly([join(pdir, 'history')], {}, pdir);
    expect(boot.code, boot.stderr).toBe(0);
    const night = await nightly([join(pdir, 'events', 'dt=2024-01-06')], {}, pdir);
    expect(night.code, night.stderr).toBe(0);
    const manifest = JSON.parse(readFileSync(join(pdir, 'nightly/data/2024-01-06/manifest.json'), 'utf8')) as { sources: { path: string; format: string }[] };
    expect(manifest.sources.map((x) => x.format)).toEqual(Array<string>(6).fill('parquet'));
    expect(realpathSync(join(pdir, 'nightly/current'))).toBe(realpathSync(join(pdir, 'nightly/data/2024-01-06')));
    const again = await nightly([join(pdir, 'events', 'dt=2024-01-06')], {}, pdir);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr).toMatch(/already in the current dataset/);
  }, 360_000);
});
