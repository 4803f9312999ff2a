/**
 * Registers our kernels for one backend. Must run before `tf.setBackend(name)` the first time:
 * the wasm kernels' `setupFunc` (a cwrap) runs at backend init, and the wrappers reuse the
 * original kernel's setupFunc (docs/engines.md#tfjs-behaviour-the-code-relies-on). Idempotent: a kernel already replaced by ours is
 * left alone, so wrappers never wrap wrappers.
 */
import type * as TF from '@tensorflow/tfjs';
import { tf } from '../tf.js';
import { makeBatchMatMulWasm } from './batch-mat-mul.js';
import { makeBroadcastBinaryCpu, makeGatherV2Cpu, makeSplitVCpu } from './cpu-fast-paths.js';
import { makeGatherV2Wasm } from './gather-v2.js';
import { unsortedSegmentSumCpu, unsortedSegmentSumWasm } from './unsorted-segment-sum.js';

export type KernelBackendName = 'cpu' | 'wasm';

/** `${backend}/${kernel}` → the kernel config that was registered before ours (if any). */
const originals = new Map<string, TF.KernelConfig | null>();
const ours = new Map<KernelBackendName, string[]>();

function replace(config: TF.KernelConfig): void {
  const key = `${config.backendName}/${config.kernelName}`;
  if (originals.has(key)) return;
  const existing = findKernel(config.kernelName, config.backendName);
  originals.set(key, existing);
  // registerKernel only warns on a duplicate and keeps the old one, so unregister first.
  if (existing !== null) tf.unregisterKernel(config.kernelName, config.backendName);
  tf.registerKernel(config);
}

function findKernel(kernelName: string, backendName: string): TF.KernelConfig | null {
  return tf.getKernel(kernelName, backendName) ?? null;
}

/** The stock kernel we replaced (for tests and for falling back); null if there was none. */
export function originalKernel(kernelName: string, backendName: KernelBackendName): TF.KernelConfig | null {
  const key = `${backendName}/${kernelName}`;
  return originals.has(key) ? (originals.get(key) ?? null) : findKernel(kernelName, backendName);
}

function required(kernelName: string, backendName: string): TF.KernelConfig {
  const k = findKernel(kernelName, backendName);
  if (k === null) throw new Error(`engine: the ${backendName} backend has no ${kernelName} kernel to wrap`);
  return k;
}

/**
 * Installs our kernels for `backend` and returns their names. For wasm the backend package must
 * already be imported (its kernels are what we wrap).
 */
export function registerEngineKernels(backend: KernelBackendName): string[] {
  const done = ours.get(backend);
  if (done !== undefined) return [...done];
  const names: string[] = [];
  if (backend === 'cpu') {
    replace(unsortedSegmentSumCpu);
    names.push('UnsortedSegmentSum');
    for (const op of ['Multiply', 'Add', 'Sub'] as const) {
      replace(makeBroadcastBinaryCpu(op, required(op, 'cpu')));
      names.push(op);
    }
    replace(makeGatherV2Cpu(required('GatherV2', 'cpu')));
    names.push('GatherV2');
    replace(makeSplitVCpu(required('SplitV', 'cpu')));
    names.push('SplitV');
  } else {
    replace(unsortedSegmentSumWasm);
    names.push('UnsortedSegmentSum');
    const bmm = required('BatchMatMul', 'wasm');
    replace(makeBatchMatMulWasm(bmm, required('Transpose', 'wasm')));
    names.push('BatchMatMul');
    replace(makeGatherV2Wasm(required('GatherV2', 'wasm')));
    names.push('GatherV2');
  }
  ours.set(backend, names);
  return [...names];
}
