import type * as TF from '@tensorflow/tfjs';
import { tf } from '../../../src/engine/tf.js';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { initEngine } from '../../../src/engine/backend.js';
import type { EpochRecord, RunJson, SavedModelRecord, TrainerState } from '../../../src/io/checkpoint.js';
import { createTrainingCheckpoint, resumeTrainingCheckpoint, type NewCheckpoint } from '../../../src/io/training-checkpoint.js';
import { UsageError } from '../../../src/util/errors.js';
import { memoryLogger, silentLogger } from '../../../src/util/log.js';

beforeAll(async () => {
  await initEngine({ backend: 'cpu', log: silentLogger });
});

const dir = () => mkdtempSync(join(tmpdir(), 'rec-training-ckpt-'));

const RUN: Omit<RunJson, 'format_version'> = {
  argv: ['train'],
  versions: { rec: '0', tfjs: tf.version.tfjs, node: process.version },
  engine: 'cpu',
  seed: 7,
  model: 'mf',
  loss: 'mse',
  feedback: 'explicit',
  dataset: { path: '/data/ml', manifest_sha256: 'abc', anonymize: null, train_max_ts: null },
  parents: [],
  shape: { users: 2, items: 3, global_mean: 3.5 },
  value_range: [1, 5],
  timings: { started: '2026-01-01T00:00:00.000Z', finished: null, train_seconds: 0 },
  status: 'running',
  config: { train: { model: 'mf' } },
  config_sources: { 'train.model': 'flag' },
};

function tinyModel(): { keras: TF.LayersModel; meta: SavedModelRecord } {
  const keras = tf.sequential({ layers: [tf.layers.dense({ units: 2, inputShape: [3], name: 'd' })] });
  const meta = { model: 'mf', config: { dim: 2 }, shape: { users: 2, items: 3 } };
  keras.setUserDefinedMetadata({ rec: meta });
  return { keras, meta };
}

function weights(m: { keras: TF.LayersModel }): number[] {
  return m.keras.getWeights().flatMap((w) => Array.from(w.dataSync()));
}

function sha256(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}

function readJson(path: string): Record<string, unknown> {
  return JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
}

function state(epoch: number, best: TrainerState['best']): TrainerState {
  return { epoch, step_in_epoch: 0, global_step: epoch * 4, epoch_prng: [1, 2, 3, epoch], loss_sum: 0, loss_count: 0, best, epochs_without_improvement: 0, train_seconds: epoch * 0.5 };
}

function record(epoch: number, ndcg: number): EpochRecord {
  return { epoch, loss: 1 / epoch, seconds: 0.5, examples_per_s: 100, lr: 0.01, valid: { 'ndcg@10': ndcg } };
}

function newCheckpoint(order: string[]): NewCheckpoint {
  return {
    run: structuredClone(RUN),
    configYaml: 'train:\n  model: mf # flag\n',
    writeVocab: async (ckpt) => {
      order.push(`vocab (config.yaml ${existsSync(join(ckpt, 'config.yaml')) ? 'present' : 'absent'})`);
      await mkdir(join(ckpt, 'vocab'), { recursive: true });
      writeFileSync(join(ckpt, 'vocab', 'users.arrow'), 'u');
      writeFileSync(join(ckpt, 'vocab', 'items.arrow'), 'i');
    },
    trainedRows: { users: Uint8Array.from([1, 0]), items: Uint8Array.from([1, 1, 0]) },
  };
}

describe('TrainingCheckpoint', () => {
  it('a new run: create writes everything but run.json, begin writes it, saves and epochs keep the hashes, finish records them', async () => {
    const d = dir();
    const order: string[] = [];
    const model = tinyModel();
    const ckpt = await createTrainingCheckpoint(d, model, newCheckpoint(order));
    expect(order).toEqual(['vocab (config.yaml present)']);
    expect(readdirSync(d).sort()).toEqual(['README.md', 'config.yaml', 'vocab']);
    expect(readdirSync(join(d, 'vocab')).sort()).toEqual(['items.arrow', 'trained.json', 'users.arrow']);
    expect(readFileSync(join(d, 'config.yaml'), 'utf8')).toBe('train:\n  model: mf # flag\n');
    expect(readFileSync(join(d, 'README.md'), 'utf8')).toMatch(/^# rec checkpoint \(mf\)/);

    await ckpt.begin({ engine: 'wasm', workers: 2 });
    const begun = readJson(join(d, 'run.json'));
    expect(Object.keys(begun).sort()).toEqual(['format_version', ...Object.keys(RUN), 'workers'].sort());
    expect(begun).toMatchObject({ format_version: 1, status: 'running', engine: 'wasm', workers: 2 });
    expect(begun.weights_sha256).toBeUndefined();

    const moments = { 'sparse/m': tf.tensor1d([0.25, -1]) };
    await ckpt.saveState(moments, state(1, { epoch: 1, metric: 'ndcg@10', value: 0.2 }));
    const saved = weights(model);
    expect(readJson(join(d, 'last', 'trainer_state.json'))).toEqual(state(1, { epoch: 1, metric: 'ndcg@10', value: 0.2 }));
    // Hashes are kept for run.json's next write; the file still says what begin wrote.
    expect(readJson(join(d, 'run.json')).weights_sha256).toBeUndefined();
    expect(ckpt.run.weights_sha256).toEqual({
      'last/model/weights.bin': sha256(join(d, 'last', 'model', 'weights.bin')),
      'last/optimizer.bin': sha256(join(d, 'last', 'optimizer.bin')),
    });

    await ckpt.recordEpoch(record(1, 0.2), { best: { epoch: 1, metric: 'ndcg@10', value: 0.2 }, sample: { users: 3, of: 5, seed: 9 } });
    expect(readJson(join(d, 'best.json'))).toEqual({ epoch: 1, metric: 'ndcg@10', value: 0.2, valid: { 'ndcg@10': 0.2 }, valid_users: { users: 3, of: 5, seed: 9 } });
    const bestHash = sha256(join(d, 'model', 'weights.bin'));
    expect(ckpt.run.weights_sha256?.['model/weights.bin']).toBe(bestHash);

    // A worse epoch: metrics.jsonl grows, model/ and best.json stay the best epoch's.
    model.keras.setWeights(model.keras.getWeights().map((w) => tf.add(w, 1)));
    await ckpt.recordEpoch(record(2, 0.1), null);
    expect(readFileSync(join(d, 'metrics.jsonl'), 'utf8')).toBe(`${JSON.stringify(record(1, 0.2))}\n${JSON.stringify(record(2, 0.1))}\n`);
    expect(ckpt.epochs.map((e) => e.epoch)).toEqual([1, 2]);
    expect(sha256(join(d, 'model', 'weights.bin'))).toBe(bestHash);
    expect(readJson(join(d, 'best.json')).epoch).toBe(1);

    await ckpt.finish('completed', { trainSeconds: 1.23456, wallStart: performance.now() - 2000 });
    const run = readJson(join(d, 'run.json')) as unknown as RunJson;
    expect(run.status).toBe('completed');
    expect(run.timings.finished).toMatch(/^\d{4}-\d\d-\d\dT/);
    expect(run.timings.train_seconds).toBe(1.235);
    expect(run.timings.wall_seconds).toBeGreaterThanOrEqual(2);
    expect(run.weights_sha256).toEqual({
      'last/model/weights.bin': sha256(join(d, 'last', 'model', 'weights.bin')),
      'last/optimizer.bin': sha256(join(d, 'last', 'optimizer.bin')),
      'model/weights.bin': bestHash,
    });

    // Resume reads back the last save (checked against the recorded hashes), not the later weights.
    const log = memoryLogger('debug');
    const resumed = await resumeTrainingCheckpoint(d, (keras, meta) => ({ keras, meta }), log);
    expect(resumed.state).toEqual(state(1, { epoch: 1, metric: 'ndcg@10', value: 0.2 }));
    expect(weights(resumed.model)).toEqual(saved);
    expect(resumed.model.meta).toEqual(model.meta);
    expect(Object.keys(resumed.optimizer)).toEqual(['sparse/m']);
    expect(Array.from(resumed.optimizer['sparse/m'].dataSync())).toEqual([0.25, -1]);
    // The epoch recorded past the last save is dropped: the resumed run records it again.
    expect(resumed.checkpoint.epochs.map((e) => e.epoch)).toEqual([1]);
    expect(resumed.checkpoint.run.status).toBe('completed');
    expect(log.lines.filter((l) => /no recorded sha256/.test(l))).toEqual([]);
    tf.dispose(Object.values(resumed.optimizer));

    // A resumed run that stops short keeps the finished time it had, and adds its wall time.
    await resumed.checkpoint.begin({ engine: 'cpu', workers: 1 });
    expect(readJson(join(d, 'run.json'))).toMatchObject({ status: 'running', engine: 'cpu', workers: 1 });
    // The checkpoint saves the model it resumed: the one the resumed run trains on.
    resumed.model.keras.setWeights(resumed.model.keras.getWeights().map((w) => tf.add(w, 2)));
    await resumed.checkpoint.recordEpoch(record(2, 0.3), { best: { epoch: 2, metric: 'ndcg@10', value: 0.3 }, sample: null });
    expect(readJson(join(d, 'best.json'))).toEqual({ epoch: 2, metric: 'ndcg@10', value: 0.3, valid: { 'ndcg@10': 0.3 } });
    await resumed.checkpoint.finish('interrupted', { trainSeconds: 0.75, wallStart: performance.now() - 1000 });
    const after = readJson(join(d, 'run.json')) as unknown as RunJson;
    expect(after.status).toBe('interrupted');
    expect(after.timings.finished).toBe(run.timings.finished);
    expect(after.timings.train_seconds).toBe(0.75);
    expect(after.timings.wall_seconds).toBeGreaterThanOrEqual((run.timings.wall_seconds ?? 0) + 1);
    expect(after.weights_sha256?.['model/weights.bin']).toBe(sha256(join(d, 'model', 'weights.bin')));
    expect(after.weights_sha256?.['model/weights.bin']).not.toBe(bestHash);
  });

  it('--resume without a complete save is a UsageError; a changed weights file is refused once the run has ended', async () => {
    const d = dir();
    const model = tinyModel();
    const ckpt = await createTrainingCheckpoint(d, model, newCheckpoint([]));
    await ckpt.begin({ engine: 'cpu', workers: 1 });
    const wrap = (keras: TF.LayersModel) => ({ keras });
    await expect(resumeTrainingCheckpoint(d, wrap, silentLogger)).rejects.toThrow(UsageError);
    await expect(resumeTrainingCheckpoint(d, wrap, silentLogger)).rejects.toThrow(/has no complete saved state \(last\/trainer_state\.json\)/);
    await ckpt.saveState({}, state(0, null));
    await ckpt.finish('failed', { trainSeconds: 0, wallStart: performance.now() });
    expect(readJson(join(d, 'run.json')).timings).toMatchObject({ finished: null });
    const bin = join(d, 'last', 'model', 'weights.bin');
    const bytes = readFileSync(bin);
    bytes[0] ^= 1;
    writeFileSync(bin, bytes);
    await expect(resumeTrainingCheckpoint(d, wrap, silentLogger)).rejects.toThrow(/sha256/);
  });
});
