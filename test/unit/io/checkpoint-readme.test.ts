import { mkdtempSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, sep } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { CHECKPOINT_README, writeCheckpointReadme } from '../../../src/io/checkpoint-readme.js';
import { rec, tempDir } from '../../cli/helpers.js';

/** Every file and folder under `dir`, as paths relative to it with `/` separators (folders end in `/`). */
function walk(dir: string, root = dir): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    const rel = relative(root, path).split(sep).join('/');
    return statSync(path).isDirectory() ? [`${rel}/`, ...walk(path, root)] : [rel];
  });
}

/** The README's table: the backticked entry of each row (`model/`, `eval-<split>-<protocol>.json`) and the row's text. */
function table(readme: string): { entry: RegExp; text: string }[] {
  return [...readme.matchAll(/^\| `([^`]+)` \| (.+) \|$/gm)].map((m) => {
    // `<split>` and the like stand for any name part.
    const pattern = m[1].split(/<[^>]+>/).map((s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('[^/]+');
    return { entry: new RegExp(`^${pattern}$`), text: m[2] };
  });
}

/** Names the README mentions anywhere as code; `*.negatives.tsv` style names match by their suffix. */
const mentioned = (readme: string, name: string): boolean =>
  [...readme.matchAll(/`([^`]+)`/g)].some(([, code]) => code === name || (code.startsWith('*') && name.endsWith(code.slice(1))));

describe('checkpoint README.md', () => {
  const dir = tempDir('rec-readme-');
  const ck = join(dir, 'ck');

  beforeAll(async () => {
    const log = join(dir, 'shop.csv');
    expect((await rec(['synth', '--out', log, '--users', '30', '--items', '20', '--events', '400', '--seed', '1'])).code).toBe(0);
    const p = await rec(['prep', log, '--out', join(dir, 'ds')]);
    expect(p.code, p.stderr).toBe(0);
    const t = await rec(['train', '--data', join(dir, 'ds'), '--model', 'neumf', '--epochs', '1', '--backend', 'cpu', '--out', ck]);
    expect(t.code, t.stderr).toBe(0);
    const e = await rec(['eval', ck, '--protocol', 'sampled:10', '--backend', 'cpu']);
    expect(e.code, e.stderr).toBe(0);
  }, 120_000);

  it('documents every entry a trained and evaluated checkpoint holds, and names the model', () => {
    const readme = readFileSync(join(ck, CHECKPOINT_README), 'utf8');
    expect(readme).toMatch(/^# rec checkpoint \(neumf\)\n/);
    const rows = table(readme);
    const entries = walk(ck).filter((p) => p !== CHECKPOINT_README && p !== '.rec.lock');
    // The folder holds what the README describes: model, resumable state, vocabulary, an eval result.
    for (const core of ['model/', 'last/', 'vocab/', 'config.yaml', 'run.json', 'metrics.jsonl', 'best.json', 'last/trainer_state.json', 'eval-test-sampled10.json']) {
      expect(entries).toContain(core);
    }
    for (const path of entries) {
      const [top, ...below] = path.split('/').filter((s) => s.length > 0);
      const isDir = path.endsWith('/') || below.length > 0;
      const row = rows.find((r) => r.entry.test(isDir ? `${top}/` : top)) ?? rows.find((r) => r.entry.test(top) || mentioned(r.text, top));
      expect(row, `${path}: no row of the README's table for ${top}`).toBeDefined();
      // TensorBoard's event file names carry a time and a host: the row documents them as event files.
      if (top === 'tb') continue;
      below.forEach((name, k) => {
        const shown = k < below.length - 1 || path.endsWith('/') ? `${name}/` : name;
        expect(mentioned(readme, shown) || mentioned(readme, name), `${path}: the README never names ${shown}`).toBe(true);
      });
    }
  });

  it('is written atomically as README.md, with no temporary left', async () => {
    const folder = mkdtempSync(join(tmpdir(), 'rec-readme-'));
    await writeCheckpointReadme(folder, 'mf');
    expect(readdirSync(folder)).toEqual([CHECKPOINT_README]);
    expect(readFileSync(join(folder, CHECKPOINT_README), 'utf8')).toMatch(/^# rec checkpoint \(mf\)\n/);
  });
});
