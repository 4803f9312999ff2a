import { tableFromIPC, type Table } from 'apache-arrow';
import { cpSync, existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { rec, tempDir } from './helpers.js';

interface Recs {
  checkpoint: string;
  k: number;
  recommendations: { user: string; items: { item: string; score: number }[]; cold: boolean }[];
}

const dir = tempDir('rec-recommend-');
const log = join(dir, 'shop.csv');
const ckpt = join(dir, 'ck');
const anonData = join(dir, 'anon-ds');
const anonCkpt = join(dir, 'ck-anon');
const KEY = 'recommend-test-key-0123456789';
const keyFile = join(dir, 'key.txt');

const table = (path: string): Table => tableFromIPC(readFileSync(path));
const strings = (t: Table, col: string): string[] => (t.getChild(col)?.toArray() as string[] | undefined) ?? [];

/** Raw item ids each raw user id interacted with, in any split of the checkpoint's dataset. */
function seenByUser(dataDir: string): Map<string, Set<string>> {
  const users = strings(table(join(dataDir, 'users.arrow')), 'id');
  const items = strings(table(join(dataDir, 'items.arrow')), 'id');
  const seen = new Map<string, Set<string>>();
  for (const split of ['train', 'valid', 'test']) {
    const t = table(join(dataDir, `${split}.arrow`));
    const u = t.getChild('user')?.toArray() as Int32Array;
    const i = t.getChild('item')?.toArray() as Int32Array;
    for (let j = 0; j < u.length; j++) {
      const set = seen.get(users[u[j]]) ?? new Set<string>();
      set.add(items[i[j]]);
      seen.set(users[u[j]], set);
    }
  }
  return seen;
}

beforeAll(async () => {
  const s = await rec(['synth', '--out', log, '--users', '120', '--items', '80', '--events', '3000', '--seed', '3']);
  expect(s.code, s.stderr).toBe(0);
  writeFileSync(keyFile, `${KEY}\n`);
  const train = (data: string, out: string) => rec(['train', '--data', data, '--epochs', '1', '--dim', '8', '--seed', '1', '--backend', 'cpu', '--out', out]);
  const [plain, anon] = await Promise.all([
    train(log, ckpt),
    (async () => {
      const p = await rec(['prep', log, '--out', anonData, '--anonymize', '--anonymize-key-file', keyFile]);
      return p.code === 0 ? train(anonData, anonCkpt) : p;
    })(),
  ]);
  expect(plain.code, plain.stderr).toBe(0);
  expect(anon.code, anon.stderr).toBe(0);
}, 120_000);

describe('rec recommend', () => {
  it('--json prints one document with raw ids; seen items excluded; unknown users cold with popular items', async () => {
    const r = await rec(['recommend', ckpt, '--user', 'u1,u2', '--user', 'stranger', '--k', '5', '--backend', 'cpu', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as Recs;
    expect(out.k).toBe(5);
    expect(out.recommendations.map((x) => [x.user, x.cold])).toEqual([
      ['u1', false],
      ['u2', false],
      ['stranger', true],
    ]);
    const seen = seenByUser(join(ckpt, 'data'));
    for (const x of out.recommendations) {
      expect(x.items).toHaveLength(5);
      for (const it of x.items) expect(it.item).toMatch(/^i\d+$/);
      const scores = x.items.map((it) => it.score);
      expect(scores).toEqual([...scores].sort((a, b) => b - a));
    }
    for (const x of out.recommendations.slice(0, 2)) for (const it of x.items) expect(seen.get(x.user)?.has(it.item)).toBe(false);
    // Cold scores are interaction counts: the most popular items by vocab count.
    const vocab = table(join(ckpt, 'vocab', 'items.arrow'));
    const counts = new Map(strings(vocab, 'id').map((id, i) => [id, Number((vocab.getChild('count')?.toArray() as Int32Array)[i])]));
    const best = Math.max(...counts.values());
    expect(out.recommendations[2].items[0].score).toBe(best);
    for (const it of out.recommendations[2].items) expect(it.score).toBe(counts.get(it.item));
  });

  it('--include-seen can bring seen items back; the same call twice gives the same lists', async () => {
    const args = ['recommend', ckpt, '--user', 'u1', '--k', '80', '--backend', 'cpu', '--json'];
    const a = JSON.parse((await rec([...args, '--include-seen'])).stdout) as Recs;
    const b = JSON.parse((await rec([...args, '--include-seen'])).stdout) as Recs;
    expect(b).toEqual(a);
    const seen = seenByUser(join(ckpt, 'data')).get('u1') ?? new Set<string>();
    expect(a.recommendations[0].items.some((it) => seen.has(it.item))).toBe(true);
  });

  it('writes csv and arrow files readable by standard tools, atomically', async () => {
    const csv = join(dir, 'out', 'recs.csv');
    const c = await rec(['recommend', ckpt, '--all', '--k', '3', '--backend', 'cpu', '--out', csv]);
    expect(c.code, c.stderr).toBe(0);
    const lines = readFileSync(csv, 'utf8').trimEnd().split('\n');
    expect(lines[0]).toBe('user,rank,item,score,cold');
    expect(lines.length - 1).toBe(3 * strings(table(join(ckpt, 'vocab', 'users.arrow')), 'id').length);
    expect(lines[1]).toMatch(/^u\d+,1,i\d+,-?[\d.e-]+,(true|false)$/);

    const arrow = join(dir, 'out', 'recs.arrow');
    const a = await rec(['recommend', ckpt, '--user', 'u3,nobody', '--k', '4', '--backend', 'cpu', '--out', arrow, '--json']);
    expect(a.code, a.stderr).toBe(0);
    expect(JSON.parse(a.stdout)).toMatchObject({ out: arrow, format: 'arrow', users: 2, cold_users: 1 });
    const t = table(arrow);
    expect(t.schema.fields.map((f) => `${f.name}:${String(f.type)}`)).toEqual(['user:Utf8', 'rank:Int32', 'item:Utf8', 'score:Float32', 'cold:Bool']);
    const rows = t.toArray().map((r) => r.toJSON() as { user: string; rank: number; cold: boolean });
    expect(rows.map((r) => [r.user, r.rank, r.cold])).toEqual([
      ['u3', 1, false], ['u3', 2, false], ['u3', 3, false], ['u3', 4, false],
      ['nobody', 1, true], ['nobody', 2, true], ['nobody', 3, true], ['nobody', 4, true],
    ]);
    expect(readdirSync(join(dir, 'out')).filter((f) => f.includes('.tmp-'))).toEqual([]);
  });

  it('--users FILE and csv on stdout', async () => {
    const ids = join(dir, 'ids.txt');
    writeFileSync(ids, 'u5\nu6\n\n');
    const r = await rec(['recommend', ckpt, '--users', ids, '--k', '2', '--format', 'csv', '--backend', 'cpu']);
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines[0]).toBe('user,rank,item,score,cold');
    expect(lines.slice(1).map((l) => l.split(',').slice(0, 2).join(','))).toEqual(['u5,1', 'u5,2', 'u6,1', 'u6,2']);
  });

  it('--similar-to lists the nearest items by cosine, without the item itself', async () => {
    const r = await rec(['recommend', ckpt, '--similar-to', 'i1', '--k', '3', '--backend', 'cpu', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as { similar: { item: string; items: { item: string; score: number }[] }[] };
    expect(out.similar).toHaveLength(1);
    expect(out.similar[0].item).toBe('i1');
    expect(out.similar[0].items).toHaveLength(3);
    for (const it of out.similar[0].items) {
      expect(it.item).not.toBe('i1');
      expect(Math.abs(it.score)).toBeLessThanOrEqual(1);
    }
  });

  it('an unknown --similar-to item is exit 2 naming it', async () => {
    const r = await rec(['recommend', ckpt, '--similar-to', 'i1', '--similar-to', 'no-such-item', '--backend', 'cpu', '--json']);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/unknown item "no-such-item"/);
  });

  it('a missing checkpoint is exit 2 naming the path', async () => {
    const missing = join(dir, 'no-such-ckpt');
    const r = await rec(['recommend', missing, '--user', 'u1', '--json']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(missing);
  });

  it.each([
    ['no selector', []],
    ['two selectors', ['--all', '--user', 'u1']],
    ['arrow to stdout', ['--all', '--format', 'arrow']],
    ['bad --k', ['--user', 'u1', '--k', '0']],
  ])('usage error: %s is exit 2', async (_name, args) => {
    const r = await rec(['recommend', ckpt, ...args]);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toMatch(/^error: /m);
  });

  it('without its dataset the checkpoint still recommends, excluding nothing, with a warning', async () => {
    const moved = join(dir, 'ck-moved');
    cpSync(ckpt, moved, { recursive: true });
    const run = JSON.parse(readFileSync(join(moved, 'run.json'), 'utf8')) as { dataset: { path: string } };
    run.dataset.path = join(dir, 'gone');
    writeFileSync(join(moved, 'run.json'), JSON.stringify(run));
    const r = await rec(['recommend', moved, '--user', 'u1', '--k', '5', '--backend', 'cpu', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/warning: .*is gone: seen items are not excluded/);
    const withSeen = await rec(['recommend', ckpt, '--user', 'u1', '--k', '5', '--include-seen', '--backend', 'cpu', '--json']);
    expect((JSON.parse(r.stdout) as Recs).recommendations).toEqual((JSON.parse(withSeen.stdout) as Recs).recommendations);
  });

  describe('surprises are explained (issue #13)', () => {
    it('unknown ids stay cold but are counted, named and matched to the id they probably mean', async () => {
      const r = await rec(['recommend', ckpt, '--user', 'u1', '--user', '"u2"', '--user', 'stranger', '--k', '3', '--backend', 'cpu', '--json']);
      expect(r.code, r.stderr).toBe(0);
      const out = JSON.parse(r.stdout) as Recs & { unknown_users: unknown };
      expect(out.recommendations.map((x) => [x.user, x.cold])).toEqual([['u1', false], ['"u2"', true], ['stranger', true]]);
      expect(out.unknown_users).toEqual({ count: 2, first: ['"u2"', 'stranger'], did_you_mean: { '"u2"': 'u2' } });
      expect(r.stderr).toMatch(/warning: 2 of 3 user ids are not in the checkpoint's vocabulary .*"\\"u2\\"" \(did you mean "u2"\?\), "stranger"/);
      const known = await rec(['recommend', ckpt, '--user', 'u1', '--backend', 'cpu', '--json']);
      expect(JSON.parse(known.stdout)).toMatchObject({ unknown_users: { count: 0, first: [] } });
      expect(known.stderr).not.toMatch(/warning/);
    });

    it('--users FILE: a header line, repeated ids and blank lines are each reported; --out summary has unknown_users', async () => {
      const ids = join(dir, 'ids-header.txt');
      writeFileSync(ids, 'user_id\nu5\n\nu6\nu5\n');
      const out = join(dir, 'out', 'header.jsonl');
      const r = await rec(['recommend', ckpt, '--users', ids, '--k', '2', '--backend', 'cpu', '--out', out, '--json']);
      expect(r.code, r.stderr).toBe(0);
      expect(JSON.parse(r.stdout)).toMatchObject({ users: 3, cold_users: 1, unknown_users: { count: 1, first: ['user_id'] } });
      expect(r.stderr).toMatch(/warning: 1 repeated user id dropped \("u5" ×2\).*3 users, not 4/);
      expect(r.stderr).toMatch(/warning: --users .*ids-header\.txt: 1 blank line skipped/);
      expect(r.stderr).toMatch(/warning: --users .*ids-header\.txt: line 1, "user_id", looks like a header/);
    });

    it('--k beyond the catalogue says so; --similar-to suggests a normalised id', async () => {
      const r = await rec(['recommend', ckpt, '--user', 'u1', '--k', '500', '--backend', 'cpu', '--json']);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stderr).toMatch(/warning: --k 500 is more than the \d+ items of the catalogue/);
      expect(r.stderr).toMatch(/warning: 1 user got fewer than \d+ items: their seen items were excluded/);
      const s = await rec(['recommend', ckpt, '--similar-to', ' "i1" ', '--backend', 'cpu']);
      expect(s.code).toBe(2);
      expect(s.stderr).toMatch(/unknown item .* \(did you mean "i1"\?\)/);
    });

    it('a moved dataset: the warning names run.json and --data DIR; --data restores the seen items', async () => {
      const moved = join(dir, 'ck-moved-data');
      cpSync(ckpt, moved, { recursive: true });
      const run = JSON.parse(readFileSync(join(moved, 'run.json'), 'utf8')) as { dataset: { path: string } };
      run.dataset.path = join(dir, 'gone');
      writeFileSync(join(moved, 'run.json'), JSON.stringify(run));
      const gone = await rec(['recommend', moved, '--user', 'u1', '--k', '5', '--backend', 'cpu', '--json']);
      expect(gone.stderr).toMatch(/is gone: .*dataset\.path.*--data DIR/);
      const args = ['--user', 'u1', '--k', '5', '--backend', 'cpu', '--json'];
      const [fixed, original] = await Promise.all([rec(['recommend', moved, '--data', join(ckpt, 'data'), ...args]), rec(['recommend', ckpt, ...args])]);
      expect(fixed.code, fixed.stderr).toBe(0);
      expect(fixed.stderr).not.toMatch(/warning/);
      expect((JSON.parse(fixed.stdout) as Recs).recommendations).toEqual((JSON.parse(original.stdout) as Recs).recommendations);
      const raw = await rec(['recommend', moved, '--data', dir, ...args]);
      expect(raw.code).toBe(2);
      expect(raw.stderr).toMatch(/--data .* is not a dataset folder/);
    });
  });

  describe('anonymized dataset', () => {
    it('hashes the typed ids with the key and reports them as typed', async () => {
      expect(existsSync(join(anonCkpt, 'model', 'model.json'))).toBe(true);
      const r = await rec(['recommend', anonCkpt, '--user', 'u1', '--k', '3', '--backend', 'cpu', '--json'], { env: { REC_ANON_KEY: KEY } });
      expect(r.code, r.stderr).toBe(0);
      const out = JSON.parse(r.stdout) as Recs;
      expect(out.recommendations).toHaveLength(1);
      expect(out.recommendations[0]).toMatchObject({ user: 'u1', cold: false });
      const f = await rec(['recommend', anonCkpt, '--user', 'u1', '--k', '3', '--backend', 'cpu', '--json', '--anonymize-key-file', keyFile]);
      expect(JSON.parse(f.stdout)).toEqual(out);
    });

    it('a wrong key is exit 2; ids without any key are exit 2', async () => {
      const wrong = await rec(['recommend', anonCkpt, '--user', 'u1', '--backend', 'cpu'], { env: { REC_ANON_KEY: 'not-the-right-key-at-all' } });
      expect(wrong.code).toBe(2);
      expect(wrong.stderr).toMatch(/Wrong anonymisation key/);
      const none = await rec(['recommend', anonCkpt, '--user', 'u1', '--backend', 'cpu'], { env: { REC_ANON_KEY: '' } });
      expect(none.code).toBe(2);
      expect(none.stderr).toMatch(/anonymized user ids/);
    });

    it('without the dataset, run.json still checks the key', async () => {
      const moved = join(dir, 'ck-anon-moved');
      cpSync(anonCkpt, moved, { recursive: true });
      const run = JSON.parse(readFileSync(join(moved, 'run.json'), 'utf8')) as { dataset: { path: string; anonymize: unknown } };
      expect(run.dataset.anonymize).toMatchObject({ algorithm: 'hmac-sha256' });
      run.dataset.path = join(dir, 'gone');
      writeFileSync(join(moved, 'run.json'), JSON.stringify(run));
      const wrong = await rec(['recommend', moved, '--user', 'u1', '--backend', 'cpu'], { env: { REC_ANON_KEY: 'not-the-right-key-at-all' } });
      expect(wrong.code).toBe(2);
      expect(wrong.stderr).toMatch(/Wrong anonymisation key/);
      const right = await rec(['recommend', moved, '--user', 'u1', '--k', '3', '--backend', 'cpu', '--json'], { env: { REC_ANON_KEY: KEY } });
      expect(right.code, right.stderr).toBe(0);
      expect((JSON.parse(right.stdout) as Recs).recommendations[0]).toMatchObject({ user: 'u1', cold: false });
    });
  });
});
