import { spawn } from 'node:child_process';
import { existsSync, readFileSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { BIN, rec, tempDir } from './helpers.js';

interface EvalJson {
  protocol: { name: string; n?: number; seed?: number; file?: string };
  split: string;
  k: number[];
  metrics: Record<string, number>;
  users: { evaluated: number; skipped: number; skipped_by_reason: Record<string, number> };
  candidates?: { dropped_unknown: number; dropped_positive: number };
  gates: { passed: boolean; checks: { metric: string; passed: boolean }[] };
  file: string;
}

const dir = tempDir('rec-eval-');
const ds = join(dir, 'ds');
const ck = join(dir, 'ck');
const other = join(dir, 'other');

beforeAll(async () => {
  const log = join(dir, 'log.csv');
  expect((await rec(['synth', '--out', log, '--users', '300', '--items', '150', '--events', '15000', '--seed', '2'])).code).toBe(0);
  expect((await rec(['prep', log, '--out', ds, '--split', 'leave-last'])).code).toBe(0);
  for (const [out, seed] of [[ck, '1'], [other, '2']] as const) {
    const r = await rec(['train', '--data', ds, '--epochs', '2', '--dim', '8', '--seed', seed, '--backend', 'cpu', '--out', out], { timeoutMs: 120_000 });
    expect(r.code, r.stderr).toBe(0);
  }
}, 240_000);

const evalJson = async (args: string[], code = 0): Promise<EvalJson> => {
  const r = await rec(['eval', ck, '--backend', 'cpu', '--json', ...args]);
  expect(r.code, r.stderr).toBe(code);
  return JSON.parse(r.stdout) as EvalJson;
};

describe('rec eval', () => {
  it('--json prints one document with the fields docs/evaluation.md documents and writes eval-test-full.json', async () => {
    const out = await evalJson(['--k', '10']);
    expect(out.protocol).toEqual({ name: 'full' });
    expect(out.split).toBe('test');
    expect(out.k).toEqual([10]);
    for (const m of ['precision@10', 'recall@10', 'ndcg@10', 'hr@10', 'mrr@10', 'map@10', 'coverage@10', 'auc']) {
      expect(out.metrics[m], m).toBeGreaterThanOrEqual(0);
    }
    expect(out.metrics.rmse).toBeUndefined();
    expect(out.users.evaluated).toBeGreaterThan(200);
    const file = JSON.parse(readFileSync(join(ck, 'eval-test-full.json'), 'utf8')) as EvalJson;
    expect(file.metrics).toEqual(out.metrics);
    expect(file.users).toEqual(out.users);
  });

  it('gives identical metrics on a second run, and saves sampled negatives that replay as candidates', async () => {
    const a = await evalJson(['--protocol', 'sampled:50', '--k', '5,10', '--metrics', 'hr,ndcg,mrr']);
    const b = await evalJson(['--protocol', 'sampled:50', '--k', '5,10', '--metrics', 'hr,ndcg,mrr']);
    expect(b.metrics).toEqual(a.metrics);
    expect(a.protocol).toEqual({ name: 'sampled', n: 50, seed: 2020 });
    const negatives = join(ck, 'eval-test-sampled50.negatives.tsv');
    expect(existsSync(negatives)).toBe(true);
    const c = await evalJson(['--protocol', `candidates:${negatives}`, '--k', '5,10', '--metrics', 'hr,ndcg,mrr']);
    expect(c.metrics).toEqual(a.metrics);
    expect(c.candidates).toEqual({ dropped_unknown: 0, dropped_positive: 0, unused_lines: 0, dropped_cold: 0 });
    expect(existsSync(join(ck, 'eval-test-candidates.json'))).toBe(true);
  });

  it('two training runs with the same seed give identical metrics in their eval files', async () => {
    const again = join(dir, 'again');
    const r = await rec(['train', '--data', ds, '--epochs', '2', '--dim', '8', '--seed', '1', '--backend', 'cpu', '--out', again], { timeoutMs: 120_000 });
    expect(r.code, r.stderr).toBe(0);
    for (const ckpt of [ck, again]) expect((await rec(['eval', ckpt, '--backend', 'cpu', '--protocol', 'sampled:20', '--k', '10'])).code).toBe(0);
    const metricsOf = (ckpt: string) => (JSON.parse(readFileSync(join(ckpt, 'eval-test-sampled20.json'), 'utf8')) as EvalJson).metrics;
    expect(metricsOf(again)).toEqual(metricsOf(ck));
  });

  it('counts unknown candidate items and users without a line', async () => {
    const file = join(dir, 'cands.tsv');
    const users = readFileSync(join(ck, 'eval-test-sampled50.negatives.tsv'), 'utf8')
      .split('\n')
      .filter((l) => l && !l.startsWith('#'))
      .slice(0, 10)
      .map((l) => `${l}\tnot-an-item`);
    writeFileSync(file, `${users.join('\n')}\n`);
    const out = await evalJson(['--protocol', `candidates:${file}`, '--k', '10', '--metrics', 'hr']);
    expect(out.candidates?.dropped_unknown).toBe(10);
    expect(out.users.evaluated).toBe(10);
    expect(out.users.skipped_by_reason.no_candidates).toBeGreaterThan(100);
  });

  it('candidates:~/FILE is under HOME from a flag, REC_EVAL_PROTOCOL or a config file; CR-only files read; bad UTF-8 is exit 1 at file:line', async () => {
    const home = tempDir('rec-eval-home-');
    const lines = readFileSync(join(ck, 'eval-test-sampled50.negatives.tsv'), 'utf8')
      .split('\n')
      .filter((l) => l && !l.startsWith('#'))
      .slice(0, 10);
    writeFileSync(join(home, 'c.tsv'), `\uFEFF${lines.join('\r')}\r`);
    const config = join(home, 'eval.yaml');
    writeFileSync(config, 'eval:\n  protocol: candidates:~/c.tsv\n');
    const run = async (args: string[], env: NodeJS.ProcessEnv) => {
      const r = await rec(['eval', ck, '--backend', 'cpu', '--json', '--k', '10', '--metrics', 'hr', ...args], { cwd: dir, env: { HOME: home, ...env } });
      expect(r.code, r.stderr).toBe(0);
      return JSON.parse(r.stdout) as EvalJson;
    };
    const viaFlag = await run(['--protocol', 'candidates:~/c.tsv'], {});
    expect(viaFlag.users.evaluated).toBe(10);
    expect(viaFlag.protocol.file).toBe(join(home, 'c.tsv'));
    expect((await run([], { REC_EVAL_PROTOCOL: 'candidates:~/c.tsv' })).metrics).toEqual(viaFlag.metrics);
    expect((await run(['--config', config], {})).metrics).toEqual(viaFlag.metrics);
    expect(existsSync(join(dir, '~'))).toBe(false);

    const [first, second, ...rest] = lines;
    writeFileSync(join(home, 'c.tsv'), Buffer.concat([Buffer.from(`${first}\n${second}\tcaf`), Buffer.from([0xe9]), Buffer.from(`\n${rest.join('\n')}\n`)]));
    const bad = await rec(['eval', ck, '--backend', 'cpu', '--protocol', 'candidates:~/c.tsv', '--k', '10'], { cwd: dir, env: { HOME: home } });
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain(`${join(home, 'c.tsv')}:2: invalid UTF-8`);
    expect(bad.stderr).not.toMatch(/unexpected|at .*\.js:\d+/);
  });

  it('exit 3 when --fail-under fails, still printing the JSON and writing the eval file', async () => {
    const out = await evalJson(['--k', '10', '--metrics', 'ndcg', '--fail-under', 'ndcg@10=0.99'], 3);
    expect(out.gates.passed).toBe(false);
    expect(out.gates.checks).toEqual([expect.objectContaining({ metric: 'ndcg@10', passed: false })]);
    const pass = await evalJson(['--k', '10', '--metrics', 'ndcg', '--fail-under', 'ndcg@10=0']);
    expect(pass.gates.passed).toBe(true);
  });

  it('--baseline re-evaluates the baseline under the same protocol; --max-drop gates on it', async () => {
    const self = await evalJson(['--k', '10', '--metrics', 'ndcg', '--baseline', ck, '--max-drop', 'ndcg@10=0']);
    expect(self.gates.passed).toBe(true);
    const base = (await evalJson(['--k', '10', '--metrics', 'ndcg', '--baseline', other, '--max-drop', 'ndcg@10=100%'])) as EvalJson & {
      baseline: { metrics: Record<string, number> };
    };
    expect(base.baseline.metrics['ndcg@10']).not.toBe(self.metrics['ndcg@10']);
    // Whichever of the two is better, requiring the worse one to not drop at all fails one direction.
    const [worse, better] = base.baseline.metrics['ndcg@10'] < self.metrics['ndcg@10'] ? [other, ck] : [ck, other];
    const r = await rec(['eval', worse, '--backend', 'cpu', '--k', '10', '--metrics', 'ndcg', '--baseline', better, '--max-drop', 'ndcg@10=0']);
    expect(r.code, r.stderr).toBe(3);
    expect(r.stderr).toMatch(/quality gate failed: ndcg@10/);
  });

  it('exit 2 for usage errors: missing checkpoint, unknown metric, rmse on an implicit model, gate on an uncomputed metric', async () => {
    const missing = await rec(['eval', join(dir, 'nope')]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/nope does not exist/);
    const unknown = await rec(['eval', ck, '--metrics', 'ndgc']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/unknown metric "ndgc"/);
    const rmse = await rec(['eval', ck, '--metrics', 'rmse']);
    expect(rmse.code).toBe(2);
    expect(rmse.stderr).toMatch(/trained with loss bce/);
    const gate = await rec(['eval', ck, '--metrics', 'ndcg', '--k', '10', '--fail-under', 'hr@10=0.1']);
    expect(gate.code).toBe(2);
    expect(gate.stderr).toMatch(/--fail-under: metric "hr@10" was not computed/);
  });

  it('exit 1 for a corrupt model file', async () => {
    const broken = join(dir, 'broken');
    expect((await rec(['train', '--data', ds, '--epochs', '1', '--dim', '4', '--backend', 'cpu', '--out', broken])).code).toBe(0);
    truncateSync(join(broken, 'model', 'weights.bin'), 10);
    const r = await rec(['eval', broken, '--backend', 'cpu']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/weights\.bin/);
    expect(r.stderr).not.toMatch(/bug in rec/);
  });
});

describe('divergence', () => {
  it('a NaN loss is exit 1 naming the epoch and step, keeping the last good state, status failed', async () => {
    const out = join(dir, 'nan');
    // lr 1e30 blows the weights up in the first step, so the second step's loss is not finite;
    // --save-every 1 has saved the state after the first (finite-loss) step by then.
    const r = await rec(['train', '--data', ds, '--epochs', '2', '--dim', '8', '--lr', '1e30', '--backend', 'cpu', '--save-every', '1', '--out', out]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/Training diverged: loss is (NaN|-?Infinity) at epoch 1, step \d+\. The last good state is kept in last\//);
    expect(r.stderr).not.toMatch(/bug in rec/);
    expect(existsSync(join(out, 'last', 'trainer_state.json'))).toBe(true);
    const run = JSON.parse(readFileSync(join(out, 'run.json'), 'utf8')) as { status: string };
    expect(run.status).toBe('failed');
  });
});

describe('interruption', () => {
  it('SIGINT mid-epoch saves a resumable state at that step and exits 130', async () => {
    const out = join(dir, 'sigint');
    // Batch size 1 through the autograd step: an epoch is thousands of ~1 ms steps, so the signal
    // lands inside one.
    const child = spawn(process.execPath, [BIN, 'train', '--data', ds, '--epochs', '3', '--dim', '8', '--batch-size', '1', '--no-fused', '--patience', '0', '--backend', 'cpu', '--out', out], {
      stdio: 'ignore',
      env: { ...process.env, CI: 'true' },
    });
    const exited = new Promise<number | null>((done) => child.on('exit', (code) => done(code)));
    for (let i = 0; i < 6000 && !existsSync(join(out, 'run.json')); i++) await new Promise((r) => setTimeout(r, 10));
    await new Promise((r) => setTimeout(r, 1500));
    child.kill('SIGINT');
    expect(await exited).toBe(130);
    const state = JSON.parse(readFileSync(join(out, 'last', 'trainer_state.json'), 'utf8')) as { epoch: number; step_in_epoch: number };
    expect(state.epoch).toBe(0);
    expect(state.step_in_epoch).toBeGreaterThan(0);
    const run = JSON.parse(readFileSync(join(out, 'run.json'), 'utf8')) as { status: string };
    expect(run.status).toBe('interrupted');
  }, 120_000);
});
