import { describe, expect, it } from 'vitest';
import { describeDoctor } from '../../../src/cli/commands/doctor.js';
import { BUILT_MODELS } from '../../../src/config/model-names.js';
import type { DoctorReport } from '../../../src/engine/doctor.js';

const report = (workers: number, cores: number): DoctorReport => ({
  tfjs_version: '4.22.0',
  node: 'v20.0.0',
  platform: 'linux-x64',
  engines: [{ name: 'wasm', package: '@tensorflow/tfjs-backend-wasm', installed: true, loads: true, simd: true, threads: 1 }],
  auto: 'wasm',
  workers_auto: workers,
  cores,
  gpu: { devices: [], nvidia_smi: false },
  gpu_requirements: { package: '@tensorflow/tfjs-node-gpu', cuda: '11.8', cudnn: '8.6', driver: '>= 450.80.02' },
  advice: [],
});

describe('rec doctor text', () => {
  it('--workers auto: every model family trains on the threads (src/train/parallel has pair and sequence replicas)', () => {
    const line = describeDoctor(report(2, 2)).split('\n').find((l) => l.startsWith('--workers auto')) ?? '';
    expect(line).toMatch(/^--workers auto trains every model \(/);
    for (const model of BUILT_MODELS) expect(line).toContain(model);
    expect(line).toMatch(/on 2 threads with it \(2 cores available/);
  });

  it('counts in the right number, and the engine threads are its op threads', () => {
    const text = describeDoctor(report(1, 1));
    expect(text).toMatch(/on 1 thread with it \(1 core available/);
    expect(text).toMatch(/wasm +loads \(simd on, each op on 1 thread\)/);
  });
});
