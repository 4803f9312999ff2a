import { spawn, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { rec, tempDir, type RunResult } from './helpers.js';

const dir = tempDir('rec-safety-');
const log = join(dir, 'shop.csv');
const ds = join(dir, 'ds');
const other = join(dir, 'other');
const base = join(dir, 'base');
let copies = 0;

/** A fresh copy of the trained checkpoint, so each case corrupts its own. */
function copyOfBase(): string {
  const to = join(dir, `ck${++copies}`);
  cpSync(base, to, { recursive: true });
  return to;
}

const read = (path: string) => readFileSync(path, 'utf8');
const json = (path: string) => JSON.parse(read(path)) as Record<string, unknown>;
const deadPid = () => spawnSync(process.execPath, ['-e', '0']).pid as number;
const train = (out: string, ...extra: string[]) => rec(['train', '--data', ds, '--epochs', '1', '--dim', '8', '--seed', '1', '--backend', 'cpu', '--out', out, ...extra]);

function expectClean(r: RunResult, code: number, message: RegExp): void {
  expect(r.code, r.stderr).toBe(code);
  expect(r.stderr).toMatch(message);
  expect(r.stderr).not.toMatch(/unexpected failure/);
}

beforeAll(async () => {
  expect((await rec(['synth', '--out', log, '--users', '120', '--items', '80', '--events', '3000', '--seed', '3'])).code).toBe(0);
  // The same shop with other user ids: a dataset that is not the checkpoint's, sharing none of its users.
  const lines = read(log).split('\n');
  writeFileSync(join(dir, 'other.csv'), [lines[0], ...lines.slice(1).map((l) => l.replace(/^u/, 'z'))].join('\n'));
  const [a, b] = await Promise.all([rec(['prep', log, '--out', ds]), rec(['prep', join(dir, 'other.csv'), '--out', other])]);
  expect(a.code, a.stderr).toBe(0);
  expect(b.code, b.stderr).toBe(0);
  const t = await train(base);
  expect(t.code, t.stderr).toBe(0);
  const e = await rec(['eval', base, '--backend', 'cpu']);
  expect(e.code, e.stderr).toBe(0);
}, 120_000);

describe.concurrent('rec train --out onto an existing checkpoint', () => {
  it('is refused without --resume or --force, naming what is there; --force replaces only what rec wrote', async () => {
    const ck = copyOfBase();
    const weights = read(join(ck, 'model', 'weights.bin'));
    const refused = await train(ck);
    expectClean(refused, 2, /already holds a checkpoint \(status completed: .*eval-test-full\.json.*\)\. .*--resume.*--force/);
    expect(read(join(ck, 'model', 'weights.bin'))).toBe(weights);
    expect(existsSync(join(ck, '.rec.lock'))).toBe(false);

    writeFileSync(join(ck, 'notes.md'), 'mine');
    const forced = await train(ck, '--force', '--seed', '2');
    expect(forced.code, forced.stderr).toBe(0);
    expect(forced.stderr).toMatch(/--force: removed the previous checkpoint's files/);
    expect(readdirSync(ck).sort()).toEqual(['README.md', 'best.json', 'config.yaml', 'last', 'metrics.jsonl', 'model', 'notes.md', 'run.json', 'tb', 'vocab']);
    expect(read(join(ck, 'notes.md'))).toBe('mine');
  });

  it('a folder of other files is refused without --force, and kept with it', async () => {
    const out = join(dir, 'foreign');
    mkdirSync(out);
    writeFileSync(join(out, 'thesis.tex'), 'x');
    expectClean(await train(out), 2, /is not a checkpoint written by rec: it holds thesis\.tex/);
    expect((await train(out, '--force')).code).toBe(0);
    expect(read(join(out, 'thesis.tex'))).toBe('x');
  });

  it('a folder locked by a live rec process is exit 2 naming its pid; a dead one does not block', async () => {
    const ck = copyOfBase();
    const holder = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 30000)'], { stdio: 'ignore' });
    try {
      writeFileSync(join(ck, '.rec.lock'), JSON.stringify({ pid: holder.pid, command: 'rec train', started: 'now' }));
      const [t, e] = await Promise.all([train(ck, '--resume', '--epochs', '2'), rec(['eval', ck, '--backend', 'cpu'])]);
      expectClean(t, 2, new RegExp(`in use by another rec process: pid ${holder.pid}`));
      expectClean(e, 2, new RegExp(`being written by another rec process: pid ${holder.pid}`));
    } finally {
      holder.kill('SIGKILL');
    }
    writeFileSync(join(ck, '.rec.lock'), JSON.stringify({ pid: deadPid(), command: 'rec train', started: 'then' }));
    const resumed = await train(ck, '--resume', '--epochs', '2');
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(existsSync(join(ck, '.rec.lock'))).toBe(false);
  });
});

describe.concurrent('a kill between the two renames of a save', () => {
  it('leaves last/ and model/ only under temporary names: eval reads the model, --resume restores both', async () => {
    const ck = copyOfBase();
    const dead = deadPid();
    renameSync(join(ck, 'last'), join(ck, `.last.tmp-${dead}-0a0b0c0d`));
    renameSync(join(ck, 'model'), join(ck, `.model.tmp-${dead}-0a0b0c0d`));
    const e = await rec(['eval', ck, '--backend', 'cpu']);
    expect(e.code, e.stderr).toBe(0);
    const r = await train(ck, '--resume', '--epochs', '2');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/last: a save was interrupted between its renames; restored the latest complete state/);
    expect(readdirSync(ck).filter((n) => n.includes('.tmp-'))).toEqual([]);
    expect(json(join(ck, 'last', 'trainer_state.json')).epoch).toBe(2);
  });
});

describe.concurrent('rec eval on a dataset that is not the checkpoint', () => {
  it('the checkpoint own dataset is recorded as matching', () => {
    expect(json(join(base, 'eval-test-full.json')).data).toMatchObject({ path: join(base, '..', 'ds'), matches_checkpoint: true });
  });

  it('warns, and with no user in common is exit 1 that explains why, keeping the previous eval file', async () => {
    const ck = copyOfBase();
    const before = read(join(ck, 'eval-test-full.json'));
    const r = await rec(['eval', ck, '--data', other, '--backend', 'cpu', '--json']);
    expectClean(r, 1, /none of its \d+ users are in the model's vocabulary/);
    expect(r.stderr).toMatch(/warning: dataset .*other is not the one .* was trained on/);
    expect(r.stdout).toBe('');
    expect(read(join(ck, 'eval-test-full.json'))).toBe(before);
  });
});

describe('rec eval twice at once on one checkpoint', () => {
  it('both finish, each eval file whole, no temporaries left', async () => {
    const ck = copyOfBase();
    const runs = await Promise.all([
      rec(['eval', ck, '--backend', 'cpu']),
      rec(['eval', ck, '--backend', 'cpu']),
      rec(['eval', ck, '--backend', 'cpu', '--protocol', 'sampled:20']),
    ]);
    for (const r of runs) expect(r.code, r.stderr).toBe(0);
    for (const name of ['eval-test-full.json', 'eval-test-sampled20.json']) expect(json(join(ck, name))).toHaveProperty('metrics');
    expect(readdirSync(ck).filter((n) => n.includes('.tmp-'))).toEqual([]);
  });
});

describe.concurrent('corrupt checkpoint files: a clear message and exit 1 or 2, never a stack trace', () => {
  const flip = (path: string, count: number) => {
    const bytes = readFileSync(path);
    for (let i = 0; i < count; i++) bytes[(i * 37) % bytes.length] ^= 0xff;
    writeFileSync(path, bytes);
  };
  const cases: { name: string; corrupt: (ck: string) => void; run: (ck: string) => string[]; code: number; message: RegExp }[] = [
    { name: 'run.json not JSON', corrupt: (ck) => writeFileSync(join(ck, 'run.json'), '{"format_version": 1,'), run: (ck) => ['eval', ck], code: 1, message: /run\.json \(the run record\) is not valid JSON/ },
    { name: 'run.json missing a field', corrupt: (ck) => writeFileSync(join(ck, 'run.json'), '{"format_version": 1}'), run: (ck) => ['recommend', ck, '--user', 'u1'], code: 1, message: /run\.json is corrupt: "model" is nothing; expected a string/ },
    { name: 'trainer_state.json', corrupt: (ck) => writeFileSync(join(ck, 'last', 'trainer_state.json'), '[1,2'), run: (ck) => ['train', '--out', ck, '--resume', '--epochs', '2'], code: 1, message: /trainer_state\.json \(the saved training state\) is not valid JSON/ },
    { name: 'metrics.jsonl', corrupt: (ck) => writeFileSync(join(ck, 'metrics.jsonl'), 'epoch 1\n'), run: (ck) => ['train', '--out', ck, '--resume', '--epochs', '2'], code: 1, message: /metrics\.jsonl:1 is not valid JSON/ },
    { name: 'best.json', corrupt: (ck) => writeFileSync(join(ck, 'best.json'), '{"epoch": "one"}'), run: (ck) => ['train', '--data', ds, '--init-from', ck, '--epochs', '1', '--out', `${ck}-child`], code: 1, message: /best\.json is corrupt: "epoch" is "one"; expected a number/ },
    { name: 'model.json without modelTopology', corrupt: (ck) => writeFileSync(join(ck, 'model', 'model.json'), JSON.stringify({ ...json(join(ck, 'model', 'model.json')), modelTopology: undefined })), run: (ck) => ['eval', ck], code: 1, message: /model\.json has no modelTopology/ },
    { name: 'missing weights.bin', corrupt: (ck) => rmSync(join(ck, 'model', 'weights.bin')), run: (ck) => ['eval', ck], code: 1, message: /Cannot read .*model\/weights\.bin: ENOENT/ },
    { name: 'all-NaN weights.bin', corrupt: (ck) => writeFileSync(join(ck, 'model', 'weights.bin'), new Uint8Array(new Float32Array(readFileSync(join(ck, 'model', 'weights.bin')).length / 4).fill(NaN).buffer)), run: (ck) => ['eval', ck], code: 1, message: /model\/weights\.bin is corrupt: its sha256 is [0-9a-f]{64}, .*model\.json records [0-9a-f]{64}/ },
    { name: '64 flipped bytes', corrupt: (ck) => flip(join(ck, 'model', 'weights.bin'), 64), run: (ck) => ['recommend', ck, '--user', 'u1'], code: 1, message: /weights\.bin is corrupt: its sha256 is/ },
    { name: 'flipped optimizer state', corrupt: (ck) => flip(join(ck, 'last', 'optimizer.bin'), 8), run: (ck) => ['train', '--out', ck, '--resume', '--epochs', '2'], code: 1, message: /last\/optimizer\.bin is corrupt: its sha256 is/ },
    {
      name: 'NaN weights in a checkpoint from before hashes',
      corrupt: (ck) => {
        const modelJson = join(ck, 'model', 'model.json');
        writeFileSync(modelJson, JSON.stringify({ ...json(modelJson), weightsSha256: undefined }));
        writeFileSync(join(ck, 'run.json'), JSON.stringify({ ...json(join(ck, 'run.json')), weights_sha256: undefined }));
        const weights = readFileSync(join(ck, 'model', 'weights.bin'));
        weights.writeFloatLE(NaN, 8);
        writeFileSync(join(ck, 'model', 'weights.bin'), weights);
      },
      run: (ck) => ['eval', ck],
      code: 1,
      message: /weights\.bin is corrupt: weight .* holds a non-finite value \(NaN\)/,
    },
    { name: 'recommend --out onto a folder', corrupt: (ck) => mkdirSync(join(ck, 'recs')), run: (ck) => ['recommend', ck, '--all', '--out', join(ck, 'recs')], code: 2, message: /--out .*recs is a folder\. Expected the path of a file/ },
  ];

  it.each(cases)('$name', async ({ corrupt, run, code, message }) => {
    const ck = copyOfBase();
    corrupt(ck);
    expectClean(await rec([...run(ck), '--backend', 'cpu']), code, message);
  });

  it('a checkpoint from before hashes still loads, with a warning', async () => {
    const ck = copyOfBase();
    const modelJson = join(ck, 'model', 'model.json');
    writeFileSync(modelJson, JSON.stringify({ ...json(modelJson), weightsSha256: undefined }));
    writeFileSync(join(ck, 'run.json'), JSON.stringify({ ...json(join(ck, 'run.json')), weights_sha256: undefined }));
    const r = await rec(['recommend', ck, '--user', 'u1', '--backend', 'cpu', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/weights\.bin has no recorded sha256 .*loaded without an integrity check/);
  });
});
