/**
 * Fast paths for the pure-JS cpu backend, kept only where profiling an MF and an NCF step showed
 * the stock kernel dominating (measured numbers in the engine report; see bench/engine.ts):
 *
 * - Multiply / Add / Sub with broadcasting: the stock kernel maps every output element through
 *   `indexToLoc`/`locToIndex` (the gradient of `sum(axis=1)` is such a Multiply: 80 of 56 ms of an
 *   MF step's profiled kernel time). Ours walks the output with per-operand strides that are 0 on
 *   broadcast axes. Same float32 arithmetic, so results are bit-identical.
 * - GatherV2 for axis 0 / batchDims 0: the stock kernel reads element by element through a
 *   TensorBuffer; ours copies whole rows.
 * - SplitV (the gradient of `concat`): the stock kernel slices element by element; ours copies
 *   contiguous runs. 430 ms of a profiled NCF step on cpu.
 * Anything outside these cases (other dtypes, equal shapes, other axes) goes to the stock kernel.
 */
import type * as TF from '@tensorflow/tfjs';
import { tf } from '../tf.js';
import { asCpu, cpuValues, sizeOf, type CpuBackendLike } from './backend-access.js';

type KernelArgs = { inputs: TF.NamedTensorInfoMap; backend: unknown; attrs?: TF.NamedAttrMap };
type Kernel = (args: KernelArgs) => TF.TensorInfo | TF.TensorInfo[];

const OPS = { Multiply: 0, Add: 1, Sub: 2 } as const;
export type BroadcastOpName = keyof typeof OPS;

/** out[idx] = a[idx·sa] op b[idx·sb] over an N-d output, strides 0 on broadcast axes. */
function broadcastLoop(
  op: number,
  a: Float32Array,
  b: Float32Array,
  outShape: number[],
  aStrides: number[],
  bStrides: number[],
  out: Float32Array,
): void {
  const rank = outShape.length;
  const n = outShape[rank - 1];
  const sa = aStrides[rank - 1];
  const sb = bStrides[rank - 1];
  const outer = out.length / n;
  const counter = new Array<number>(rank).fill(0);
  let aBase = 0;
  let bBase = 0;
  let o = 0;
  for (let row = 0; row < outer; row++) {
    if (op === 0) for (let j = 0; j < n; j++) out[o + j] = a[aBase + j * sa] * b[bBase + j * sb];
    else if (op === 1) for (let j = 0; j < n; j++) out[o + j] = a[aBase + j * sa] + b[bBase + j * sb];
    else for (let j = 0; j < n; j++) out[o + j] = a[aBase + j * sa] - b[bBase + j * sb];
    o += n;
    // Odometer over the outer axes, adjusting both bases incrementally.
    for (let k = rank - 2; k >= 0; k--) {
      counter[k]++;
      aBase += aStrides[k];
      bBase += bStrides[k];
      if (counter[k] < outShape[k]) break;
      aBase -= aStrides[k] * outShape[k];
      bBase -= bStrides[k] * outShape[k];
      counter[k] = 0;
    }
  }
}

/** Strides of `shape` (right-aligned to `outShape`) in elements, 0 on broadcast axes. */
function broadcastStrides(shape: number[], outShape: number[]): number[] {
  const rank = outShape.length;
  const strides = new Array<number>(rank).fill(0);
  let stride = 1;
  for (let k = shape.length - 1; k >= 0; k--) {
    const ok = k + rank - shape.length;
    strides[ok] = shape[k] === 1 ? 0 : stride;
    stride *= shape[k];
  }
  return strides;
}

export function makeBroadcastBinaryCpu(name: BroadcastOpName, original: TF.KernelConfig): TF.KernelConfig {
  const fallback = original.kernelFunc as unknown as Kernel;
  const op = OPS[name];
  const kernelFunc = (args: KernelArgs): TF.TensorInfo | TF.TensorInfo[] => {
    const { a, b } = args.inputs as { a: TF.TensorInfo; b: TF.TensorInfo };
    if (a.dtype !== 'float32' || b.dtype !== 'float32' || sameShape(a.shape, b.shape)) return fallback(args);
    const outShape = tf.backend_util.assertAndGetBroadcastShape(a.shape, b.shape);
    const size = sizeOf(outShape);
    if (outShape.length === 0 || size === 0) return fallback(args);
    const backend = asCpu(args.backend);
    const out = new Float32Array(size);
    broadcastLoop(
      op,
      cpuValues(backend, a) as Float32Array,
      cpuValues(backend, b) as Float32Array,
      outShape,
      broadcastStrides(a.shape, outShape),
      broadcastStrides(b.shape, outShape),
      out,
    );
    return backend.makeTensorInfo(outShape, 'float32', out);
  };
  return { ...original, kernelFunc: kernelFunc as unknown as TF.KernelFunc };
}

function sameShape(a: number[], b: number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

export function makeGatherV2Cpu(original: TF.KernelConfig): TF.KernelConfig {
  const fallback = original.kernelFunc as unknown as Kernel;
  const kernelFunc = (args: KernelArgs): TF.TensorInfo | TF.TensorInfo[] => {
    const { x, indices } = args.inputs as { x: TF.TensorInfo; indices: TF.TensorInfo };
    const attrs = args.attrs as { axis: number; batchDims: number };
    const axis = attrs.axis < 0 ? attrs.axis + x.shape.length : attrs.axis;
    if (axis !== 0 || (attrs.batchDims ?? 0) !== 0 || x.shape.length === 0 || (x.dtype !== 'float32' && x.dtype !== 'int32')) {
      return fallback(args);
    }
    const backend = asCpu(args.backend);
    const xs = cpuValues(backend, x);
    const ids = cpuValues(backend, indices);
    const rows = x.shape[0];
    const rowSize = sizeOf(x.shape.slice(1));
    const n = ids.length;
    const out = x.dtype === 'int32' ? new Int32Array(n * rowSize) : new Float32Array(n * rowSize);
    for (let i = 0; i < n; i++) {
      const r = ids[i];
      if (!(r >= 0 && r < rows)) throw new Error(`GatherV2: the index value ${r} is not in [0, ${rows - 1}]`);
      const from = r * rowSize;
      if (rowSize === 1) out[i] = xs[from];
      else out.set(xs.subarray(from, from + rowSize), i * rowSize);
    }
    return backend.makeTensorInfo([...indices.shape, ...x.shape.slice(1)], x.dtype, out);
  };
  return { ...original, kernelFunc: kernelFunc as unknown as TF.KernelFunc };
}

export function makeSplitVCpu(original: TF.KernelConfig): TF.KernelConfig {
  const fallback = original.kernelFunc as unknown as Kernel;
  const kernelFunc = (args: KernelArgs): TF.TensorInfo | TF.TensorInfo[] => {
    const { x } = args.inputs as { x: TF.TensorInfo };
    const { numOrSizeSplits, axis } = args.attrs as { numOrSizeSplits: number | number[]; axis: number };
    if (x.dtype !== 'float32' && x.dtype !== 'int32') return fallback(args);
    const ax = tf.util.parseAxisParam(axis, x.shape)[0];
    const sizes = tf.backend_util.prepareSplitSize(x as unknown as TF.Tensor, numOrSizeSplits, ax);
    const backend: CpuBackendLike = asCpu(args.backend);
    const xs = cpuValues(backend, x);
    const outer = sizeOf(x.shape.slice(0, ax));
    const inner = sizeOf(x.shape.slice(ax + 1));
    const rowLen = x.shape[ax] * inner;
    let offset = 0;
    return sizes.map((s) => {
      const run = s * inner;
      const out = x.dtype === 'int32' ? new Int32Array(outer * run) : new Float32Array(outer * run);
      for (let o = 0; o < outer; o++) {
        const from = o * rowLen + offset;
        out.set(xs.subarray(from, from + run), o * run);
      }
      offset += run;
      const shape = x.shape.slice();
      shape[ax] = s;
      return backend.makeTensorInfo(shape, x.dtype, out);
    });
  };
  return { ...original, kernelFunc: kernelFunc as unknown as TF.KernelFunc };
}
