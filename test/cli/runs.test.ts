import { copyFileSync, cpSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { REPO, rec, tempDir } from './helpers.js';

interface Row {
  name: string;
  path: string;
  status: string;
  reason: string | null;
  model: string | null;
  dataset: { path: string; manifest_sha256: string; manifest_short: string } | null;
  epochs: number | null;
  best: { epoch: number | null; metric: string | null; value: number | null; valid: Record<string, number> } | null;
  evals: { file: string; split: string; protocol: string; metrics: Record<string, number> }[];
  parents: { path: string; model: string }[];
  started: string | null;
  finished: string | null;
  age_seconds: number | null;
  wall_seconds: number | null;
  train_seconds: number | null;
  gate: { file: string; passed: boolean; baseline: string | null; baseline_pointer: string | null; baseline_is_production: boolean | null; checks: string[]; failed: string[] } | null;
  promotion: { production: boolean; links: string[]; promoted_at: string | null; forced: boolean | null; eval: string | null };
  link_to: string | null;
}

const dir = tempDir('rec-runs-');
const ds = join(dir, 'ds');
const root = join(dir, 'checkpoints');
const a = join(root, 'shop', 'a');
const b = join(root, 'shop', 'b');

beforeAll(async () => {
  const log = join(dir, 'log.csv');
  expect((await rec(['synth', '--out', log, '--users', '200', '--items', '100', '--events', '6000', '--seed', '3'])).code).toBe(0);
  expect((await rec(['prep', log, '--out', ds, '--split', 'leave-last'])).code).toBe(0);
  const train = (out: string, extra: string[]) => rec(['train', '--data', ds, '--epochs', '1', '--dim', '4', '--backend', 'cpu', '--out', out, ...extra], { timeoutMs: 120_000 });
  let r = await train(a, ['--seed', '1']);
  expect(r.code, r.stderr).toBe(0);
  r = await train(b, ['--seed', '2', '--init-from', a]);
  expect(r.code, r.stderr).toBe(0);
  // a goes to production in the folder above the listed one (a nightly's DIR/production beside DIR/checkpoints).
  r = await rec(['promote', a, '--to', dir]);
  expect(r.code, r.stderr).toBe(0);
  r = await rec(['eval', b, '--data', ds, '--backend', 'cpu', '--protocol', 'sampled:100', '--metrics', 'hr@10,ndcg@10', '--baseline', join(dir, 'production'), '--max-drop', 'ndcg@10=100%']);
  expect(r.code, r.stderr).toBe(0);

  // Not checkpoints, or not yet: each must be a row with a reason, never a crash.
  mkdirSync(join(root, 'corrupt'));
  writeFileSync(join(root, 'corrupt', 'run.json'), '{"format_version": 1, "model": ');
  mkdirSync(join(root, 'half'));
  copyFileSync(join(a, 'run.json'), join(root, 'half', 'run.json'));
  mkdirSync(join(root, 'starting'));
  writeFileSync(join(root, 'starting', 'config.yaml'), 'model: mf\n');
  mkdirSync(join(root, 'live'));
  copyFileSync(join(a, 'run.json'), join(root, 'live', 'run.json'));
  // The test runner is a live process other than `rec runs`: its pid makes the lock live.
  writeFileSync(join(root, 'live', '.rec.lock'), JSON.stringify({ pid: process.pid, command: 'rec train', started: '2026-01-01T00:00:00Z' }));
  mkdirSync(join(root, 'empty', 'leaf'), { recursive: true });
  // A folder where metrics.jsonl should be: once a crash of the whole listing (EISDIR).
  cpSync(a, join(root, 'damaged'), { recursive: true });
  rmSync(join(root, 'damaged', 'metrics.jsonl'));
  mkdirSync(join(root, 'damaged', 'metrics.jsonl'));
  rmSync(join(root, 'damaged', 'best.json'));
}, 240_000);

async function runsJson(args: string[]): Promise<Row[]> {
  const r = await rec(['runs', root, '--json', ...args]);
  expect(r.code, r.stderr).toBe(0);
  const doc = JSON.parse(r.stdout) as { runs: Row[] };
  expect(Object.keys(doc)).toEqual(['runs']);
  return doc.runs;
}

describe('rec runs', () => {
  it('--json lists every checkpoint under the folder, recursively, with its records', async () => {
    const runs = await runsJson([]);
    expect(runs.map((r) => r.name)).toEqual(['corrupt', 'damaged', 'empty/leaf', 'half', 'live', 'shop/a', 'shop/b', 'starting']);
    const byName = new Map(runs.map((r) => [r.name, r]));
    const ra = byName.get('shop/a')!;
    const rb = byName.get('shop/b')!;
    const manifest = JSON.parse(readFileSync(join(a, 'run.json'), 'utf8')) as { dataset: { manifest_sha256: string }; timings: { train_seconds: number } };
    expect(ra).toMatchObject({ status: 'completed', reason: null, model: 'mf', epochs: 1, path: a, evals: [], parents: [], gate: null });
    expect(ra.dataset).toEqual({ path: ds, manifest_sha256: manifest.dataset.manifest_sha256, manifest_short: manifest.dataset.manifest_sha256.slice(0, 8) });
    expect(ra.train_seconds).toBe(manifest.timings.train_seconds);
    expect(ra.age_seconds).toBeGreaterThanOrEqual(0);
    expect(ra.best?.epoch).toBe(1);
    expect(typeof ra.best?.value).toBe('number');
    expect(ra.best?.valid[ra.best.metric!]).toBe(ra.best?.value);
    expect(rb.parents).toEqual([{ path: a, model: 'mf', epoch: 1 }]);
    expect(rb.evals).toHaveLength(1);
    expect(rb.evals[0]).toMatchObject({ file: 'eval-test-sampled100.json', split: 'test', protocol: 'sampled100' });
    expect(Object.keys(rb.evals[0].metrics).sort()).toEqual(['hr@10', 'ndcg@10']);
  });

  it('lists broken, half-written and live folders with a status and a reason', async () => {
    const byName = new Map((await runsJson([])).map((r) => [r.name, r]));
    expect(byName.get('corrupt')).toMatchObject({ status: 'invalid', model: null });
    expect(byName.get('corrupt')!.reason).toMatch(/corrupt[/\\]run\.json.*not valid JSON/);
    expect(byName.get('half')).toMatchObject({ status: 'incomplete', model: 'mf' });
    expect(byName.get('half')!.reason).toMatch(/model\/model\.json/);
    expect(byName.get('starting')).toMatchObject({ status: 'incomplete' });
    expect(byName.get('starting')!.reason).toMatch(/run\.json is missing/);
    expect(byName.get('live')).toMatchObject({ status: 'running' });
    expect(byName.get('live')!.reason).toMatch(new RegExp(`pid ${process.pid}`));
    expect(byName.get('empty/leaf')).toMatchObject({ status: 'invalid' });
  });

  it('a folder where metrics.jsonl should be is an invalid row naming it; the listing goes on (exit 0)', async () => {
    const r = await rec(['runs', root]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).not.toMatch(/unexpected failure|EISDIR/);
    expect(r.stdout).toMatch(/^damaged +invalid /m);
    expect(r.stdout).toMatch(/^damaged: invalid: Cannot read .*damaged[/\\]metrics\.jsonl \(the epoch records\): it is a folder/m);
    expect(r.stdout).toMatch(/^shop\/b +completed /m);
  });

  it('shows which checkpoint production points at, since when, and the gate with its baseline', async () => {
    const byName = new Map((await runsJson([])).map((r) => [r.name, r]));
    const history = readFileSync(join(dir, 'promotions.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { at: string });
    expect(byName.get('shop/a')!.promotion).toMatchObject({ production: true, links: [join(dir, 'production')], promoted_at: history[0].at });
    expect(byName.get('shop/b')!.promotion).toMatchObject({ production: false, promoted_at: null });
    expect(byName.get('shop/b')!.gate).toMatchObject({ file: 'eval-test-sampled100.json', passed: true, baseline: a, baseline_pointer: join(dir, 'production'), baseline_is_production: true });
    expect(byName.get('shop/b')!.gate!.checks[0]).toMatch(/^ndcg@10 (dropped [\d.]+%|did not drop) \(allowed 100%\)$/);
    const table = (await rec(['runs', root])).stdout;
    expect(table).toMatch(/^shop\/a +completed +yes since \d{4}-\d\d-\d\d \d\d:\d\d +- /m);
    expect(table).toMatch(/^shop\/b +completed +- +pass vs …\/shop\/a \(production\) /m);
  });

  it('--sort puts the best run first and runs without the value last', async () => {
    const byEval = await runsJson(['--sort', 'eval:test:sampled100:ndcg@10']);
    expect(byEval[0].name).toBe('shop/b');
    expect(byEval.slice(1).every((r) => r.evals.length === 0)).toBe(true);

    const byValid = await runsJson(['--sort', 'recall@10']);
    const [x, y] = byValid.slice(0, 2);
    expect([x.name, y.name].sort()).toEqual(['shop/a', 'shop/b']);
    expect(x.best!.valid['recall@10']).toBeGreaterThanOrEqual(y.best!.valid['recall@10']);
    const reversed = await runsJson(['--sort', 'recall@10', '--reverse']);
    expect(reversed.slice(0, 2).map((r) => r.name)).toEqual([y.name, x.name]);
    expect(reversed.slice(2).every((r) => r.best === null)).toBe(true);
  });

  it('prints an aligned table on stdout and reasons below it; nothing else', async () => {
    const r = await rec(['runs', root, '--sort', 'eval:test:sampled100:hr@10']);
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^RUN +STATUS +PRODUCTION +GATE +MODEL +DATASET +EPOCHS +BEST VALID +EVAL +PARENT +AGE +TRAIN S$/);
    expect(lines[1]).toMatch(/^shop\/b +completed +- +pass vs \S+ \(production\) +mf +.*@[0-9a-f]{8} +1 +\S+=[\d.]+ \(ep 1\) +test\/sampled100 ndcg@10=[\d.]+ hr@10=[\d.]+ +…\/shop\/a /);
    const statusAt = lines[0].indexOf('STATUS');
    for (const line of lines.slice(1, 9)) expect(line.slice(statusAt - 2, statusAt)).toBe('  ');
    expect(r.stdout).toMatch(/^corrupt: invalid: .*not valid JSON/m);
  });

  it('a bad sort key or a missing folder is a usage error (exit 2), named', async () => {
    let r = await rec(['runs', root, '--sort', 'eval:test:ndcg@10']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--sort: "eval:test:ndcg@10" is not an eval key\. Expected eval:SPLIT:PROTOCOL:METRIC/);
    r = await rec(['runs', join(dir, 'nope')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/cannot read the folder .*nope.*ENOENT/);
    expect(r.stdout).toBe('');
  });

  it('does not load TF.js', async () => {
    const trace = join(tempDir('rec-trace-'), 'imports.txt');
    const r = await rec(['runs', root, '--json'], { env: { REC_TRACE_IMPORTS: trace, NODE_OPTIONS: `--import ${join(REPO, 'test/fixtures/startup/trace-imports.mjs')}` } });
    expect(r.code, r.stderr).toBe(0);
    const loaded = readFileSync(trace, 'utf8').split('\n').filter((url) => url.includes('/node_modules/@tensorflow/'));
    expect(loaded).toEqual([]);
  });
});
