/** Tiny datasets and checkpoints for training tests, made through the real prep and train code. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';
import { modelDefaultsLayer, resolveLayers } from '../../../src/config/load.js';
import type { Tree } from '../../../src/config/tree.js';
import { prepSchema, type ModelName } from '../../../src/config/schema.js';
import { loadDataset } from '../../../src/data/dataset.js';
import { runPrep } from '../../../src/data/prep/run.js';
import { initEngine } from '../../../src/engine/backend.js';
import { runTrain, type TrainResult } from '../../../src/train/run.js';
import { memoryLogger, silentLogger } from '../../../src/util/log.js';
import { noProgress } from '../../../src/util/progress.js';

/** A temp folder per test file, removed afterwards. */
export function tempRoot(prefix = 'rec-train-test-'): (name: string) => string {
  let root: string | null = null;
  afterAll(() => {
    if (root !== null) rmSync(root, { recursive: true, force: true });
  });
  return (name) => {
    root ??= mkdtempSync(join(tmpdir(), prefix));
    return join(root, name);
  };
}

/** (user, item) pairs as raw ids; prep indexes ids in order of first appearance. */
export async function prepPairs(out: string, pairs: readonly (readonly [string, string])[]): Promise<string> {
  const log = `${out}.csv`;
  writeFileSync(log, `user,item\n${pairs.map(([u, i]) => `${u},${i}`).join('\n')}\n`);
  await runPrep(
    { inputs: [log], out, config: prepSchema.parse({ split: 'none', feedback: 'implicit' }), seed: 2020, recVersion: 'test' },
    { log: silentLogger, progress: noProgress },
  );
  return out;
}

/** Every user with `per` items, ids `u<k>` / `i<j>`, listed in the given user and item order. */
export function grid(users: readonly number[], items: readonly number[], per: number): [string, string][] {
  const out: [string, string][] = [];
  users.forEach((u, k) => {
    for (let j = 0; j < per; j++) out.push([`u${u}`, `i${items[(k * 3 + j) % items.length]}`]);
  });
  return out;
}

export async function train(
  dataDir: string,
  out: string,
  model: ModelName,
  overrides: Tree = {},
  opts: { initFrom?: string[]; resume?: boolean } = {},
): Promise<TrainResult & { logs: string[] }> {
  const engine = await initEngine({ backend: 'cpu', log: silentLogger });
  const base = await modelDefaultsLayer(model);
  const resolved = resolveLayers([
    base,
    { source: 'test', values: { train: { model, epochs: 1, batch_size: 64, lr: 0.01 }, progress: false } },
    { source: 'test', values: overrides },
  ]);
  const ds = await loadDataset(dataDir);
  const log = memoryLogger('debug');
  const result = await runTrain(
    {
      data: {
        dir: ds.dir,
        manifestSha256: 'test',
        feedback: ds.manifest.feedback.kind,
        numUsers: ds.users.ids.length,
        numItems: ds.items.ids.length,
        train: { users: ds.train.users, items: ds.train.items, values: ds.train.values, numUsers: ds.users.ids.length, numItems: ds.items.ids.length },
        trainTs: ds.train.ts,
        others: [ds.valid, ds.test],
        hasValid: false,
      },
      out,
      resume: opts.resume === true,
      resolved,
      argv: ['train', '--model', model],
      recVersion: 'test',
      engine,
      validator: null,
      monitor: null,
      initFrom: opts.initFrom,
    },
    { log, progress: noProgress },
  );
  return { ...result, logs: log.lines };
}
