import { tf } from '../../../src/engine/tf.js';
import { describe, expect, it } from 'vitest';
import { currentEngine, initEngine } from '../../../src/engine/backend.js';
import { runDoctor } from '../../../src/engine/doctor.js';
import { UsageError } from '../../../src/util/errors.js';
import { memoryLogger } from '../../../src/util/log.js';

describe('initEngine', () => {
  it('auto picks wasm here (no tfjs-node installed), with SIMD, one thread and our kernels', async () => {
    const log = memoryLogger('info');
    const info = await initEngine({ backend: 'auto', log });
    expect(info.name).toBe('wasm');
    expect(info.simd).toBe(true);
    expect(info.threads).toBe(1);
    expect(info.kernels).toEqual(['UnsortedSegmentSum', 'BatchMatMul', 'GatherV2']);
    expect(info.tfjsVersion).toBe(tf.version.tfjs);
    expect(tf.getBackend()).toBe('wasm');
    // The engine's op threads, said so: not to be read as the run's threads ("training on 2 threads").
    expect(log.lines).toContain(`engine: wasm (auto), tfjs ${tf.version.tfjs}, simd, each op on 1 thread`);
  });

  it('registers the wasm backend into the same tfjs-core as the umbrella package', async () => {
    await initEngine({ backend: 'wasm', log: memoryLogger() });
    const wasmMod = await import('@tensorflow/tfjs-backend-wasm');
    expect(tf.findBackend('wasm')).toBeInstanceOf(wasmMod.BackendWasm);
  });

  it('returns the same engine, silently, when called again with the same backend', async () => {
    await initEngine({ backend: 'cpu', log: memoryLogger() });
    const log = memoryLogger('debug');
    const again = await initEngine({ backend: 'cpu', log });
    expect(again.name).toBe('cpu');
    expect(again.kernels).toEqual(['UnsortedSegmentSum', 'Multiply', 'Add', 'Sub', 'GatherV2', 'SplitV']);
    expect(log.lines).toEqual([]);
    expect(currentEngine()?.name).toBe('cpu');
  });

  it.each(['node', 'node-gpu'] as const)('--backend %s without the package is a UsageError naming the install command', async (name) => {
    const pkg = name === 'node' ? '@tensorflow/tfjs-node' : '@tensorflow/tfjs-node-gpu';
    const attempt = initEngine({ backend: name, log: memoryLogger() });
    await expect(attempt).rejects.toBeInstanceOf(UsageError);
    await expect(initEngine({ backend: name, log: memoryLogger() })).rejects.toThrow(new RegExp(`npm install ${pkg}@${tf.version.tfjs}`));
    // A failed explicit request leaves the previous engine in place.
    expect(tf.getBackend()).toBe('cpu');
  });
});

describe('runDoctor', () => {
  it('reports every engine and GPU advice as plain data', async () => {
    await initEngine({ backend: 'cpu', log: memoryLogger() });
    const report = await runDoctor(memoryLogger(), { timeoutMs: 2000 });
    expect(report.engines.map((e) => e.name)).toEqual(['node-gpu', 'node', 'wasm', 'cpu']);
    const wasm = report.engines.find((e) => e.name === 'wasm');
    expect(wasm).toMatchObject({ loads: true, simd: true, threads: 1, installed: true });
    expect(report.engines.find((e) => e.name === 'node-gpu')).toMatchObject({ installed: false, loads: false });
    expect(report.auto).toBe('wasm');
    expect(report.gpu_requirements).toMatchObject({ cuda: '11.2', cudnn: '8.1' });
    const advice = report.advice.join('\n');
    expect(advice).toContain(`npm install @tensorflow/tfjs-node-gpu@${tf.version.tfjs}`);
    expect(advice).toContain('npm install-scripts approve @tensorflow/tfjs-node-gpu');
    expect(advice).toMatch(/only one of the two/);
    expect(JSON.parse(JSON.stringify(report))).toEqual(report);
    // The doctor puts back the engine that was active before it ran.
    expect(tf.getBackend()).toBe('cpu');
  });
});
