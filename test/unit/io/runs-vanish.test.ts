/**
 * `rec runs` while another process deletes a folder it is reading (a cleanup job, a nightly
 * pruning old checkpoints). Each trial deletes the victim folder right before the Nth file-system
 * call that touches it, for every N until the listing makes no more such calls: every window of
 * the walk is hit once, deterministically.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, sep } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';

const inject = vi.hoisted(() => ({ victim: null as string | null, at: 0, calls: 0, deleted: false }));
vi.mock('node:fs/promises', async (importOriginal) => {
  const actual = await importOriginal<typeof import('node:fs/promises')>();
  const { rmSync: rm } = await import('node:fs');
  const touch = (path: unknown): void => {
    const v = inject.victim;
    if (v === null || inject.deleted || typeof path !== 'string' || (path !== v && !path.startsWith(v + sep))) return;
    if (++inject.calls === inject.at) {
      rm(v, { recursive: true, force: true });
      inject.deleted = true;
    }
  };
  const wrap = <A extends unknown[], R>(f: (...args: A) => R) => (...args: A): R => {
    touch(args[0]);
    return f(...args);
  };
  return { ...actual, readdir: wrap(actual.readdir), readFile: wrap(actual.readFile), stat: wrap(actual.stat), lstat: wrap(actual.lstat), realpath: wrap(actual.realpath), open: wrap(actual.open) };
});

const { listRuns } = await import('../../../src/io/runs.js');

const RUN = {
  format_version: 1,
  argv: [],
  versions: {},
  engine: 'cpu',
  seed: 1,
  model: 'mf',
  loss: 'mse',
  feedback: 'explicit',
  dataset: { path: '/data/ml', manifest_sha256: '0123456789abcdef' },
  parents: [],
  shape: { users: 2, items: 2, global_mean: 3 },
  value_range: [1, 5],
  timings: { started: '2026-01-01T00:00:00.000Z', finished: '2026-01-01T00:10:00.000Z' },
  status: 'completed',
  config: {},
  config_sources: {},
};

function checkpoint(dir: string): void {
  mkdirSync(join(dir, 'model'), { recursive: true });
  writeFileSync(join(dir, 'model', 'model.json'), '{}');
  writeFileSync(join(dir, 'run.json'), JSON.stringify(RUN));
  writeFileSync(join(dir, 'metrics.jsonl'), '{"epoch":1,"loss":1}\n');
  writeFileSync(join(dir, 'best.json'), '{"epoch":1,"metric":"rmse","value":0.9,"valid":{"rmse":0.9}}');
  writeFileSync(join(dir, 'eval-test-full.json'), '{"split":"test","metrics":{"rmse":0.9}}');
}

const base = mkdtempSync(join(tmpdir(), 'rec-runs-vanish-'));
afterAll(() => rmSync(base, { recursive: true, force: true }));

/** Lists a fresh tree whose `victim` (relative) is deleted before its `at`th fs call; whether that happened. */
async function trial(k: number, victim: string, at: number) {
  const root = join(base, `t${k}`);
  checkpoint(join(root, 'a'));
  checkpoint(join(root, 'v'));
  checkpoint(join(root, 'group', 'x'));
  checkpoint(join(root, 'z'));
  Object.assign(inject, { victim: join(root, victim), at, calls: 0, deleted: false });
  try {
    return { rows: await listRuns(root, new Date('2026-01-02T00:00:00.000Z')), deleted: inject.deleted };
  } finally {
    inject.victim = null;
  }
}

describe('listRuns while a folder is deleted', () => {
  let k = 0;
  for (const victim of ['v', 'group']) {
    it(`deleting ${victim}/ at any point of the walk lists it as invalid (or not at all) and the others whole`, async () => {
      let trials = 0;
      for (let at = 1; ; at++) {
        const { rows, deleted } = await trial(k++, victim, at);
        const byName = new Map(rows.map((r) => [r.name, r]));
        expect(byName.get('a')?.status, `trial ${at}`).toBe('completed');
        expect(byName.get('z')?.status, `trial ${at}`).toBe('completed');
        if (!deleted) {
          // Past the last call that touches the victim: the listing saw it whole.
          expect(rows.filter((r) => r.status === 'completed')).toHaveLength(4);
          break;
        }
        trials++;
        for (const r of rows.filter((row) => row.name === victim || row.name.startsWith(`${victim}/`))) {
          // Deleted after its records were all read: listed whole, as it was. Never half-read.
          if (r.status === 'completed') {
            expect(r, `trial ${at}: ${r.name}`).toMatchObject({ epochs: 1, best: { value: 0.9 }, evals: [{ file: 'eval-test-full.json' }], reason: null });
            continue;
          }
          expect(r.status, `trial ${at}: ${r.name}`).toBe('invalid');
          expect(r.reason, `trial ${at}: ${r.name}`).toMatch(/disappeared while rec runs read it|missing/);
        }
      }
      expect(trials).toBeGreaterThan(3);
    });
  }
});
