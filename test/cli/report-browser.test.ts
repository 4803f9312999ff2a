import { spawnSync } from 'node:child_process';
import { accessSync, constants, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PALETTE } from '../../src/report/svg-chart.js';
import { rec, tempDir } from './helpers.js';
import { countColour, decodePng } from './png.js';

/** Debian's `chromium` (what .ci/run installs), or another Chromium build on PATH. */
function findChromium(): string | null {
  for (const name of ['chromium', 'chromium-browser', 'google-chrome']) {
    for (const dir of (process.env.PATH ?? '').split(delimiter)) {
      try {
        accessSync(join(dir, name), constants.X_OK);
        return join(dir, name);
      } catch {
        // not in this folder
      }
    }
  }
  return null;
}

const chromium = findChromium();
// .ci/run sets REC_REQUIRE_BROWSER=1 after installing chromium: in CI this test runs, never skips.
const required = process.env.REC_REQUIRE_BROWSER === '1';

/** A checkpoint with only the files the report reads: no training needed to test the page. */
function fakeCheckpoint(dir: string, name: string, losses: number[], ndcg: number[]): string {
  const ckpt = join(dir, name);
  mkdirSync(ckpt);
  const run = { format_version: 1, model: 'mf', loss: 'bce', feedback: 'implicit', engine: 'cpu', seed: 1, status: 'completed', argv: ['train'], versions: { rec: '0' }, dataset: { path: join(dir, 'absent') }, parents: [], timings: { started: '2026-01-01T00:00:00Z', train_seconds: 1 }, config: { train: { lr: 0.01 } }, config_sources: { 'train.lr': 'default' } };
  writeFileSync(join(ckpt, 'run.json'), JSON.stringify(run));
  writeFileSync(join(ckpt, 'metrics.jsonl'), losses.map((loss, i) => JSON.stringify({ epoch: i + 1, loss, seconds: 1 + i / 10, examples_per_s: 1000, lr: 0.01, valid: { 'ndcg@10': ndcg[i] } })).join('\n') + '\n');
  writeFileSync(join(ckpt, 'eval-test-full.json'), JSON.stringify({ split: 'test', protocol: { name: 'full' }, metrics: { 'ndcg@10': ndcg.at(-1) }, users: { evaluated: 10 } }));
  return ckpt;
}

describe('rec report in a real browser', () => {
  it.skipIf(chromium === null && !required)('headless Chromium renders the charts (screenshot has the series colours)', async () => {
    expect(chromium, 'REC_REQUIRE_BROWSER=1 but no chromium on PATH').not.toBeNull();
    const dir = tempDir('rec-report-browser-');
    const a = fakeCheckpoint(dir, 'a', [0.9, 0.6, 0.5, 0.45], [0.1, 0.2, 0.25, 0.27]);
    const b = fakeCheckpoint(dir, 'b', [0.8, 0.5, 0.4, 0.38], [0.12, 0.22, 0.3, 0.33]);
    const page = join(dir, 'report.html');
    const r = await rec(['report', a, b, '--out', page, '-q']);
    // The fake run.json names a dataset folder that does not exist: a warning, not a failure.
    expect(r.stderr).toMatch(/^warning: .*dataset folder not reachable here/);
    expect(r.code).toBe(0);
    const shot = join(dir, 'shot.png');
    const args = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--hide-scrollbars', `--user-data-dir=${join(dir, 'profile')}`, `--screenshot=${shot}`, '--window-size=1280,1200', `file://${page}`];
    const c = spawnSync(chromium as string, args, { timeout: 50_000, encoding: 'utf8' });
    expect(c.status, c.stderr).toBe(0);
    const img = decodePng(readFileSync(shot));
    expect([img.width, img.height]).toEqual([1280, 1200]);
    // The overlaid charts sit at the top: both series' colours must be drawn (lines, markers, legend).
    expect(countColour(img, PALETTE[0], 30)).toBeGreaterThan(300);
    expect(countColour(img, PALETTE[1], 30)).toBeGreaterThan(300);
  });
});
