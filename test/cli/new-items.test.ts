/**
 * New products (issue #21 item 3): `rec eval --items all|warm|cold` and `rec recommend --new-items`
 * on a model that scores items from catalogue features. Here the features are simulated: a tiny MF
 * is trained, then its vocab/trained.json is rewritten with `featured` bits on two of the three
 * items that only appear in the test split (their rows keep their initial vectors, which stand in
 * for vectors composed from features). The end-to-end run with a model really trained with
 * features belongs with `rec train --features`.
 */
import { cpSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { readVocabFile } from '../../src/data/dataset.js';
import { readTrainedRows, writeTrainedRows } from '../../src/io/checkpoint.js';
import { rec, tempDir } from './helpers.js';

interface EvalJson {
  protocol: { name: string; n?: number; items?: string };
  metrics: Record<string, number>;
  users: { evaluated: number; skipped: number; skipped_by_reason: Record<string, number> };
  relevant_cold_items: number;
  relevant_items: { warm_ranked: number; cold_ranked: number; cold_skipped: number; unknown: number; not_selected: number; cold_skip_reason: string | null };
  file: string;
}
interface Recs {
  recommendations: { user: string; items: { item: string; score: number; from_features?: boolean }[]; cold: boolean }[];
}
interface Similar {
  similar: { item: string; from_features?: boolean; items: { item: string; score: number; from_features?: boolean }[] }[];
}

const dir = tempDir('rec-new-items-');
const ds = join(dir, 'ds');
const featured = join(dir, 'featured');
const plain = join(dir, 'plain');
// Twelve users end on a new product, four each on n0, n1 and n2 (n2 gets no features).
const NEW_USERS = 12;
let newUsers: string[] = [];

/** The first `n` users of a synth log with at least 4 distinct items (so leave-last holds out their last). */
function usersWithHistory(csv: string, n: number): string[] {
  const items = new Map<string, Set<string>>();
  for (const line of csv.trim().split('\n').slice(1)) {
    const [user, item] = line.split(',');
    items.set(user, (items.get(user) ?? new Set()).add(item));
  }
  return [...items].filter(([, set]) => set.size >= 4).slice(0, n).map(([user]) => user);
}

beforeAll(async () => {
  const log = join(dir, 'log.csv');
  const s = await rec(['synth', '--out', log, '--users', '60', '--items', '40', '--events', '1500', '--seed', '3']);
  expect(s.code, s.stderr).toBe(0);
  const text = readFileSync(log, 'utf8');
  newUsers = usersWithHistory(text, NEW_USERS);
  expect(newUsers).toHaveLength(NEW_USERS);
  // Just after the synth log's last timestamp, so each is its user's last interaction.
  const last = Math.max(...text.trim().split('\n').slice(1).map((l) => Number(l.split(',')[4])));
  const extra = newUsers.map((u, j) => `${u},n${j % 3},home,view,${last + 1 + j}\n`).join('');
  writeFileSync(log, text + extra);
  const p = await rec(['prep', log, '--out', ds, '--split', 'leave-last']);
  expect(p.code, p.stderr).toBe(0);
  const t = await rec(['train', '--data', ds, '--epochs', '1', '--dim', '8', '--seed', '1', '--backend', 'cpu', '--out', plain], { timeoutMs: 120_000 });
  expect(t.code, t.stderr).toBe(0);
  cpSync(plain, featured, { recursive: true });
  const rows = await readTrainedRows(featured);
  const items = await readVocabFile(join(featured, 'vocab', 'items.arrow'));
  if (rows === null) throw new Error('the trained checkpoint has no vocab/trained.json');
  for (const id of ['n0', 'n1', 'n2']) expect(rows.items[items.lookup(id)], id).toBe(0);
  const bits = Uint8Array.from(rows.items);
  bits[items.lookup('n0')] = 1;
  bits[items.lookup('n1')] = 1;
  await writeTrainedRows(featured, { ...rows, featured: bits });
}, 180_000);

const evalOf = async (ck: string, args: string[], code = 0): Promise<EvalJson> => {
  const r = await rec(['eval', ck, '--backend', 'cpu', '--json', '--k', '10', ...args]);
  expect(r.code, r.stderr).toBe(code);
  return JSON.parse(r.stdout) as EvalJson;
};

describe('rec eval --items', () => {
  it('all: a featured model ranks new products from their features; those without features are skipped, and why', async () => {
    const out = await evalOf(featured, []);
    expect(out.protocol).toEqual({ name: 'full' });
    expect(out.relevant_items).toMatchObject({ cold_ranked: 8, cold_skipped: 4, unknown: 0, not_selected: 0, cold_skip_reason: 'items_without_features' });
    expect(out.relevant_cold_items).toBe(4);
    expect(out.users.skipped_by_reason.cold_item).toBe(4);
    expect(out.file).toBe(join(featured, 'eval-test-full.json'));
  });

  it('cold and warm: only relevant items without / with a training row, in files of their own', async () => {
    const all = await evalOf(featured, []);
    const cold = await evalOf(featured, ['--items', 'cold']);
    expect(cold.protocol).toEqual({ name: 'full', items: 'cold' });
    expect(cold.users.evaluated).toBe(8);
    expect(cold.relevant_items).toMatchObject({ warm_ranked: 0, cold_ranked: 8, cold_skipped: 4 });
    expect(cold.users.skipped_by_reason.cold_item).toBe(4);
    expect(cold.users.skipped_by_reason.no_cold_item).toBe(all.users.evaluated - 8);
    expect(cold.file).toBe(join(featured, 'eval-test-full.cold.json'));

    const warm = await evalOf(featured, ['--items', 'warm']);
    expect(warm.protocol).toEqual({ name: 'full', items: 'warm' });
    expect(warm.relevant_items).toMatchObject({ cold_ranked: 0, cold_skipped: 0, not_selected: NEW_USERS, warm_ranked: all.relevant_items.warm_ranked });
    expect(warm.users.skipped_by_reason.no_warm_item).toBe(NEW_USERS);
    expect(warm.users.evaluated).toBe(all.users.evaluated - 8);
    expect(warm.file).toBe(join(featured, 'eval-test-full.warm.json'));
    // Each mode keeps its own file: the all-items file is not overwritten.
    const saved = JSON.parse(readFileSync(join(featured, 'eval-test-full.json'), 'utf8')) as EvalJson;
    expect(saved.relevant_items.cold_ranked).toBe(8);
  });

  it('sampled and candidates rank a featured new product too', async () => {
    const sampled = await evalOf(featured, ['--items', 'cold', '--protocol', 'sampled:20']);
    expect(sampled.protocol).toMatchObject({ name: 'sampled', n: 20, items: 'cold' });
    expect(sampled.users.evaluated).toBe(8);
    expect(existsSync(join(featured, 'eval-test-sampled20.cold.negatives.tsv'))).toBe(true);
    // The first new-item user's candidates: the two new products other than its own (n0) and a warm item.
    const cands = join(dir, 'cands.tsv');
    writeFileSync(cands, `${newUsers[0]}\tn1\tn2\ti1\n`);
    const r = await evalOf(featured, ['--items', 'cold', '--protocol', `candidates:${cands}`]);
    expect(r.users.evaluated).toBe(1);
    expect(r.relevant_items.cold_ranked).toBe(1);
    expect((r as EvalJson & { candidates: { dropped_cold: number } }).candidates.dropped_cold).toBe(1);
  });

  it('new and recent split cold: under leave-last no new product had a row before test, so new is cold and recent ranks none', async () => {
    const cold = await evalOf(featured, ['--items', 'cold']);
    const fresh = await evalOf(featured, ['--items', 'new']);
    expect(fresh.protocol).toEqual({ name: 'full', items: 'new' });
    expect(fresh.metrics).toEqual(cold.metrics);
    expect(fresh.relevant_items).toMatchObject({ cold_ranked: 8, cold_skipped: 4 });
    expect(fresh.users.skipped_by_reason.no_new_item).toBe(cold.users.skipped_by_reason.no_cold_item);
    expect(fresh.file).toBe(join(featured, 'eval-test-full.new.json'));
    const recent = await rec(['eval', featured, '--backend', 'cpu', '--items', 'recent']);
    expect(recent.code).toBe(1);
    expect(recent.stderr).toMatch(/no_recent_item.*--items recent/);
    expect(existsSync(join(featured, 'eval-test-full.recent.json'))).toBe(false);
  });

  it('a model without features: --items cold is exit 2; all says the cold items were skipped because it has no features', async () => {
    const r = await rec(['eval', plain, '--backend', 'cpu', '--items', 'cold']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--items cold: checkpoint .* was trained without item features/);
    expect(existsSync(join(plain, 'eval-test-full.cold.json'))).toBe(false);
    const all = await evalOf(plain, []);
    expect(all.relevant_items).toMatchObject({ cold_ranked: 0, cold_skipped: NEW_USERS, cold_skip_reason: 'model_without_features' });
    const human = await rec(['eval', plain, '--backend', 'cpu', '--k', '10']);
    expect(human.code, human.stderr).toBe(0);
    expect(human.stdout).toMatch(/the model has no item features: 12 relevant cold items \(no training row\) skipped/);
    const bad = await rec(['eval', plain, '--backend', 'cpu', '--items', 'fresh']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--items expects one of all\|warm\|cold\|new\|recent/);
    const fresh = await rec(['eval', plain, '--backend', 'cpu', '--items', 'new']);
    expect(fresh.code).toBe(2);
    expect(fresh.stderr).toMatch(/--items new: checkpoint .* was trained without item features/);
  });

  it('gates: --fail-under holds under --items cold; a baseline must rank the same kind of items', async () => {
    const cold = await evalOf(featured, ['--items', 'cold']);
    const over = (cold.metrics['ndcg@10'] + 0.001).toFixed(6);
    await evalOf(featured, ['--items', 'cold', '--fail-under', `ndcg@10=${over}`], 3);
    const r = await rec(['eval', featured, '--backend', 'cpu', '--items', 'cold', '--baseline', plain, '--max-drop', 'ndcg@10=0.5']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--items cold: --baseline .* was trained without item features/);
    const warm = await evalOf(featured, ['--items', 'warm', '--baseline', plain, '--max-drop', 'ndcg@10=100%']);
    expect((warm as EvalJson & { baseline: { users: { evaluated: number } } }).baseline.users.evaluated).toBe(warm.users.evaluated);
  });
});

describe('rec recommend --new-items', () => {
  const NEW = new Set(['n0', 'n1', 'n2']);

  it('serves featured new products only with the switch, each marked from_features', async () => {
    const off = await rec(['recommend', featured, '--user', 'u20,u30', '--k', '1000', '--include-seen', '--backend', 'cpu', '--json']);
    expect(off.code, off.stderr).toBe(0);
    for (const x of (JSON.parse(off.stdout) as Recs).recommendations) {
      expect(x.items.filter((s) => NEW.has(s.item))).toEqual([]);
      expect(x.items.some((s) => 'from_features' in s)).toBe(false);
    }
    const on = await rec(['recommend', featured, '--user', 'u20,u30', '--k', '1000', '--include-seen', '--backend', 'cpu', '--json', '--new-items']);
    expect(on.code, on.stderr).toBe(0);
    for (const x of (JSON.parse(on.stdout) as Recs).recommendations) {
      expect(x.cold).toBe(false);
      expect(x.items.filter((s) => NEW.has(s.item)).map((s) => s.item).sort()).toEqual(['n0', 'n1']);
      for (const s of x.items) expect(s.from_features === true, s.item).toBe(NEW.has(s.item));
    }
  });

  it('csv gains a from_features column; a model without features refuses the switch', async () => {
    const csv = await rec(['recommend', featured, '--user', 'u20', '--k', '1000', '--include-seen', '--backend', 'cpu', '--format', 'csv', '--new-items']);
    expect(csv.code, csv.stderr).toBe(0);
    const lines = csv.stdout.trim().split('\n');
    expect(lines[0]).toBe('user,rank,item,score,cold,from_features');
    const marked = lines.slice(1).filter((l) => l.endsWith(',true')).map((l) => l.split(',')[2]);
    expect(marked.sort()).toEqual(['n0', 'n1']);
    const r = await rec(['recommend', plain, '--user', 'u20', '--backend', 'cpu', '--new-items']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--new-items: .* was trained without item features/);
  });

  it('--similar-to a product never bought: its neighbours from its feature vector; new products among them only with the switch', async () => {
    const off = await rec(['recommend', featured, '--similar-to', 'n0', '--k', '1000', '--backend', 'cpu', '--json']);
    expect(off.code, off.stderr).toBe(0);
    expect(off.stderr).not.toMatch(/no training rows/);
    const [q] = (JSON.parse(off.stdout) as Similar).similar;
    expect(q.from_features).toBe(true);
    expect(q.items.filter((s) => NEW.has(s.item))).toEqual([]);
    const on = await rec(['recommend', featured, '--similar-to', 'n0', '--k', '1000', '--backend', 'cpu', '--json', '--new-items']);
    const [qn] = (JSON.parse(on.stdout) as Similar).similar;
    expect(qn.items.filter((s) => NEW.has(s.item))).toEqual([expect.objectContaining({ item: 'n1', from_features: true })]);
    // An id-only model still answers, but warns that the vector is random.
    const idOnly = await rec(['recommend', plain, '--similar-to', 'n0', '--backend', 'cpu', '--json']);
    expect(idOnly.code, idOnly.stderr).toBe(0);
    expect(idOnly.stderr).toMatch(/--similar-to "n0": no training rows/);
  });
});
