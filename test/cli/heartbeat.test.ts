/**
 * Off a terminal no progress bar is drawn, and a long epoch used to leave stderr silent until its
 * end (issue 19: 263 s on SASRec). The heartbeat prints a line every --heartbeat seconds (REC_HEARTBEAT),
 * on stderr only, so --json stdout stays one document.
 */
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { rec, tempDir } from './helpers.js';

const dir = tempDir('rec-heartbeat-');
const ds = join(dir, 'ds');
// Many small steps: the epoch lasts seconds, well over the heartbeat interval used below and the
// progress updates' 200 ms, even on an idle machine where mf's fused step is fastest.
const train = (out: string) => ['train', '--data', ds, '--model', 'mf', '--epochs', '1', '--batch-size', '1', '--dim', '4', '--backend', 'cpu', '--out', join(dir, out)];
const HEARTBEAT = /^epoch 1\/1: \d+\/(\d+) steps \(\d+%\)( \| [\d.]+k? ex\/s)?( \| ETA \w+)?( \| loss \d+\.\d{4})?$/m;

beforeAll(async () => {
  const log = join(dir, 'shop.csv');
  expect((await rec(['synth', '--out', log, '--users', '600', '--items', '400', '--events', '40000', '--seed', '3'])).code).toBe(0);
  const p = await rec(['prep', log, '--split', 'random:0.9,0.1,0', '--out', ds]);
  expect(p.code, p.stderr).toBe(0);
}, 60_000);

describe('the heartbeat off a terminal', () => {
  it('REC_HEARTBEAT: a line with step/total, examples/s, running loss and ETA on stderr; --json stdout stays one document', async () => {
    const r = await rec([...train('env'), '--json'], { env: { REC_HEARTBEAT: '0.05' }, timeoutMs: 120_000 });
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ model: 'mf' });
    expect(r.stderr).toMatch(HEARTBEAT);
    // Once the steps run, the line carries the rate, the time left and the running loss.
    expect(r.stderr).toMatch(/^epoch 1\/1: \d+\/\d+ steps \(\d+%\) \| [\d.]+k? ex\/s \| ETA \w+ \| loss \d+\.\d{4}$/m);
  }, 120_000);

  it('--heartbeat 0 turns it off; the default (30 s) says nothing on a short run; a bad value is exit 2 naming the flag', async () => {
    const off = await rec([...train('off'), '--heartbeat', '0'], { env: { REC_HEARTBEAT: '0.05' }, timeoutMs: 120_000 });
    expect(off.code, off.stderr).toBe(0);
    expect(off.stderr).not.toMatch(HEARTBEAT);
    const plain = await rec(train('plain'), { timeoutMs: 120_000 });
    expect(plain.code, plain.stderr).toBe(0);
    expect(plain.stderr).not.toMatch(HEARTBEAT);
    // One epoch is "1 epoch", not "1 epochs".
    expect(plain.stdout).toMatch(/^trained mf for 1 epoch on cpu /m);
    const bad = await rec([...train('bad'), '--heartbeat', 'soon']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--heartbeat "soon" is not a number of seconds/);
  }, 120_000);
});
