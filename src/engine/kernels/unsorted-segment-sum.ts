/**
 * UnsortedSegmentSum for the cpu and wasm backends: out[s] = Σ_{i: ids[i] = s} x[i].
 *
 * Why ours: wasm 4.22 has no UnsortedSegmentSum at all, so the gradient of `tf.gather` (and with it
 * any dense update of an embedding table) cannot run there; the stock cpu kernel is
 * O(numSegments·N·inner) and took 117 s for one [4096,32] → 6040-segment call (docs/engines.md#tfjs-behaviour-the-code-relies-on).
 * This one is a single O(N·inner) scatter-add. Ids outside [0, numSegments) are dropped, as in
 * TensorFlow's kernel.
 */
import type * as TF from '@tensorflow/tfjs';
import { asCpu, asWasm, cpuValues, sizeOf, type NumericArray } from './backend-access.js';

interface SegmentSumArgs {
  x: TF.TensorInfo;
  segmentIds: TF.TensorInfo;
  numSegments: number;
}

function parseArgs(args: { inputs: TF.NamedTensorInfoMap; attrs?: TF.NamedAttrMap }): SegmentSumArgs {
  const { x, segmentIds } = args.inputs as { x: TF.TensorInfo; segmentIds: TF.TensorInfo };
  const numSegments = Number((args.attrs as { numSegments: number }).numSegments);
  return { x, segmentIds, numSegments };
}

function outShape({ x, segmentIds, numSegments }: SegmentSumArgs): number[] {
  return [numSegments, ...x.shape.slice(segmentIds.shape.length)];
}

/** Scatter-adds rows of `x` into a zero-filled `out`; shared by both backends. */
export function segmentSumInto(
  x: NumericArray,
  ids: Int32Array,
  numSegments: number,
  out: NumericArray,
): void {
  out.fill(0);
  const n = ids.length;
  if (n === 0) return;
  const inner = x.length / n;
  for (let i = 0; i < n; i++) {
    const s = ids[i];
    if (s < 0 || s >= numSegments) continue;
    const src = i * inner;
    const dst = s * inner;
    for (let j = 0; j < inner; j++) out[dst + j] += x[src + j];
  }
}

function cpuKernel(args: { inputs: TF.NamedTensorInfoMap; backend: unknown; attrs?: TF.NamedAttrMap }): TF.TensorInfo {
  const parsed = parseArgs(args);
  const backend = asCpu(args.backend);
  const shape = outShape(parsed);
  const x = cpuValues(backend, parsed.x);
  const ids = cpuValues(backend, parsed.segmentIds);
  const out = parsed.x.dtype === 'int32' ? new Int32Array(sizeOf(shape)) : new Float32Array(sizeOf(shape));
  segmentSumInto(x, toInt32(ids), parsed.numSegments, out);
  return backend.makeTensorInfo(shape, parsed.x.dtype, out);
}

function wasmKernel(args: { inputs: TF.NamedTensorInfoMap; backend: unknown; attrs?: TF.NamedAttrMap }): TF.TensorInfo {
  const parsed = parseArgs(args);
  const backend = asWasm(args.backend);
  const shape = outShape(parsed);
  const out = backend.makeOutput(shape, parsed.x.dtype);
  // Views only after makeOutput: a heap growth detaches views made before it (docs/engines.md#tfjs-behaviour-the-code-relies-on).
  const x = backend.typedArrayFromHeap(parsed.x);
  const ids = backend.typedArrayFromHeap(parsed.segmentIds);
  segmentSumInto(x, toInt32(ids), parsed.numSegments, backend.typedArrayFromHeap(out));
  return out;
}

function toInt32(a: NumericArray): Int32Array {
  return a instanceof Int32Array ? a : Int32Array.from(a);
}

export const unsortedSegmentSumCpu: TF.KernelConfig = {
  kernelName: 'UnsortedSegmentSum',
  backendName: 'cpu',
  kernelFunc: cpuKernel as unknown as TF.KernelFunc,
};

export const unsortedSegmentSumWasm: TF.KernelConfig = {
  kernelName: 'UnsortedSegmentSum',
  backendName: 'wasm',
  kernelFunc: wasmKernel as unknown as TF.KernelFunc,
};
