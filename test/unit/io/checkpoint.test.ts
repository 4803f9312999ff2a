import { mkdirSync, mkdtempSync, readFileSync, readdirSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CHECKPOINT_KIND, findCompleteDir, openCheckpointForTrain, readMetrics, readModelEpoch, readRunJson, readTrainedRows, recoverStagedDir, recordedWeightsHash, writeTrainedRows } from '../../../src/io/checkpoint.js';
import { readBest } from '../../../src/io/checkpoint-read.js';
import { DataError } from '../../../src/util/errors.js';
import { memoryLogger } from '../../../src/util/log.js';
import { spawnSync } from 'node:child_process';

const dir = () => mkdtempSync(join(tmpdir(), 'rec-ckpt-'));

function stateDir(path: string, step: number, mtime: number): void {
  mkdirSync(path, { recursive: true });
  writeFileSync(join(path, 'trainer_state.json'), JSON.stringify({ global_step: step }));
  utimesSync(join(path, 'trainer_state.json'), mtime, mtime);
}

describe('last/ swap recovery', () => {
  it('uses last/ when it is complete', async () => {
    const d = dir();
    stateDir(join(d, 'last'), 5, 1000);
    stateDir(join(d, '.last.tmp-1-aa'), 9, 2000);
    expect(await findCompleteDir(join(d, 'last'), 'trainer_state.json')).toBe(join(d, 'last'));
  });

  it('after a kill between the two renames, restores the newest complete copy', async () => {
    const d = dir();
    stateDir(join(d, '.last.tmp-1-aa'), 5, 1000);
    stateDir(join(d, '.last.tmp-1-bb'), 9, 2000);
    mkdirSync(join(d, '.last.tmp-1-cc')); // a staged copy that never got its trainer_state.json
    expect(await findCompleteDir(join(d, 'last'), 'trainer_state.json')).toBe(join(d, '.last.tmp-1-bb'));
    expect(await recoverStagedDir(join(d, 'last'), 'trainer_state.json')).toBe(true);
    expect(JSON.parse(readFileSync(join(d, 'last', 'trainer_state.json'), 'utf8'))).toEqual({ global_step: 9 });
    expect(await recoverStagedDir(join(d, 'last'), 'trainer_state.json')).toBe(false);
  });

  it('an incomplete last/ (no trainer_state.json) is moved aside, not trusted', async () => {
    const d = dir();
    mkdirSync(join(d, 'last', 'model'), { recursive: true });
    stateDir(join(d, '.last.tmp-1-aa'), 5, 1000);
    expect(await recoverStagedDir(join(d, 'last'), 'trainer_state.json')).toBe(true);
    expect(readdirSync(join(d, 'last'))).toEqual(['trainer_state.json']);
  });

  it('no complete copy anywhere: nothing to resume', async () => {
    const d = dir();
    mkdirSync(join(d, 'last'));
    expect(await findCompleteDir(join(d, 'last'), 'trainer_state.json')).toBeNull();
  });
});

describe('openCheckpointForTrain sweeps a killed run\'s temporaries', () => {
  it('but puts back the dataset of `rec train --data LOG` that a kill left beside CKPT/data, instead of deleting it', async () => {
    const d = dir();
    const dead = spawnSync(process.execPath, ['-e', '0']).pid as number;
    const aside = join(d, `.data.tmp-${dead}-aa`);
    mkdirSync(aside);
    writeFileSync(join(aside, 'manifest.json'), '{"format_version": 1}');
    writeFileSync(join(d, `.run.json.tmp-${dead}-bb`), '{"half');
    const log = memoryLogger('debug');
    const session = await openCheckpointForTrain(d, { resume: false, force: false, keepData: false, log });
    await session.release();
    expect(readdirSync(d)).toEqual(['data']);
    expect(readFileSync(join(d, 'data', 'manifest.json'), 'utf8')).toBe('{"format_version": 1}');
    expect(log.lines.join('\n')).toMatch(/data: a prep was interrupted between its renames; restored the complete dataset/);
  });
});

describe('corrupt checkpoint files are DataErrors naming the file', () => {
  it('run.json: invalid JSON, missing fields', async () => {
    const d = dir();
    writeFileSync(join(d, 'run.json'), '{"format_version": 1, "model": ');
    await expect(readRunJson(d)).rejects.toThrow(/run\.json \(the run record\) is not valid JSON/);
    writeFileSync(join(d, 'run.json'), JSON.stringify({ format_version: 1, model: 'mf' }));
    const error = await readRunJson(d).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DataError);
    expect((error as Error).message).toMatch(/run\.json is corrupt: "loss" is nothing; expected a string/);
  });

  it('metrics.jsonl: names the line', async () => {
    const d = dir();
    writeFileSync(join(d, 'metrics.jsonl'), '{"epoch":1,"loss":0.5}\n{"epoch":2,"lo\n');
    await expect(readMetrics(d)).rejects.toThrow(/metrics\.jsonl:2 is not valid JSON/);
  });

  it('best.json: one reader for the epoch of model/ and for runs and report, refusing an epoch that is not a number', async () => {
    const d = dir();
    writeFileSync(join(d, 'metrics.jsonl'), '{"epoch":1,"loss":0.5}\n{"epoch":2,"loss":0.4}\n');
    expect(await readBest(d)).toBeNull();
    expect(await readModelEpoch(d)).toBe(2);
    writeFileSync(join(d, 'best.json'), '{"epoch":1,"metric":"ndcg@10","value":0.3,"valid":{"ndcg@10":0.3,"note":"x"}}');
    expect(await readBest(d)).toEqual({ epoch: 1, metric: 'ndcg@10', value: 0.3, valid: { 'ndcg@10': 0.3 } });
    expect(await readModelEpoch(d)).toBe(1);
    // No epoch measured the monitored metric yet: model/ holds the last epoch's weights.
    writeFileSync(join(d, 'best.json'), '{"epoch":null,"metric":null,"value":null,"valid":{}}');
    expect(await readBest(d)).toEqual({ epoch: null, metric: null, value: null, valid: {} });
    expect(await readModelEpoch(d)).toBe(2);
    writeFileSync(join(d, 'best.json'), '{"epoch":"one"}');
    await expect(readBest(d)).rejects.toThrow(/best\.json is corrupt: "epoch" is "one"; expected a number/);
    await expect(readModelEpoch(d)).rejects.toThrow(/best\.json is corrupt: "epoch" is "one"; expected a number/);
  });
});

describe('checkpoint output kind', () => {
  it('owns what rec train and rec eval write, nothing else', () => {
    for (const name of ['run.json', 'model', 'last', 'vocab', 'data', 'best.json', 'metrics.jsonl', 'config.yaml', 'eval-test-full.json', 'eval-test-sampled100.negatives.tsv']) {
      expect(CHECKPOINT_KIND.owns(name), name).toBe(true);
    }
    for (const name of ['notes.md', 'eval.json', 'model.json', 'eval-test-full.json.bak']) expect(CHECKPOINT_KIND.owns(name), name).toBe(false);
  });

  it('run.json hashes are checked only once the run has ended', () => {
    const weights_sha256 = { 'model/weights.bin': 'abc' };
    expect(recordedWeightsHash({ status: 'completed', weights_sha256 }, 'model/weights.bin')).toBe('abc');
    expect(recordedWeightsHash({ status: 'running', weights_sha256 }, 'model/weights.bin')).toBeNull();
    expect(recordedWeightsHash({ status: 'completed' }, 'last/optimizer.bin')).toBeNull();
  });
});

describe('vocab/trained.json', () => {
  it('round-trips the learned rows bit for bit; absent is null, damaged is a DataError naming the file', async () => {
    const d = dir();
    expect(await readTrainedRows(d)).toBeNull();
    const users = Uint8Array.from({ length: 19 }, (_, i) => (i % 3 === 0 ? 1 : 0));
    const items = Uint8Array.from([1, 0, 0, 1, 1, 1, 1, 1, 0]);
    await writeTrainedRows(d, { users, items });
    const json = JSON.parse(readFileSync(join(d, 'vocab', 'trained.json'), 'utf8')) as { users: { rows: number; trained: number } };
    expect(json.users).toMatchObject({ rows: 19, trained: 7 });
    const back = await readTrainedRows(d);
    expect(Array.from(back!.users)).toEqual(Array.from(users));
    expect(Array.from(back!.items)).toEqual(Array.from(items));
    writeFileSync(join(d, 'vocab', 'trained.json'), '{"users": {"rows": 9, "bits": "AAAA"}, "items": {"rows": 1, "bits": "AA=="}}');
    await expect(readTrainedRows(d)).rejects.toThrow(/trained\.json: "users" has 3 bytes of bits for 9 rows/);
    writeFileSync(join(d, 'vocab', 'trained.json'), '{"users": ');
    await expect(readTrainedRows(d)).rejects.toBeInstanceOf(DataError);
  });
});
