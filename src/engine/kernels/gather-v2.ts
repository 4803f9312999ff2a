/**
 * GatherV2 fast path for wasm: for axis 0 and batchDims 0 (every embedding lookup) each output row
 * is one `copyWithin` inside the heap; every other case goes to the original kernel.
 *
 * Why: the stock wasm kernel walks strides per element and reads the indices back through
 * `readSync`; the four gathers of an MF step took about 10 ms, and the row copy brought the whole
 * step from 21 ms to 8–13 ms (docs/engines.md#tfjs-behaviour-the-code-relies-on).
 */
import type * as TF from '@tensorflow/tfjs';
import { asWasm, sizeOf, wasmOffset } from './backend-access.js';

type KernelArgs = { inputs: TF.NamedTensorInfoMap; backend: unknown; attrs?: TF.NamedAttrMap };

export function makeGatherV2Wasm(original: TF.KernelConfig): TF.KernelConfig {
  const fallback = original.kernelFunc as unknown as (args: KernelArgs) => TF.TensorInfo;
  const kernelFunc = (args: KernelArgs): TF.TensorInfo => {
    const { x, indices } = args.inputs as { x: TF.TensorInfo; indices: TF.TensorInfo };
    const attrs = args.attrs as { axis: number; batchDims: number };
    const axis = attrs.axis < 0 ? attrs.axis + x.shape.length : attrs.axis;
    if (axis !== 0 || (attrs.batchDims ?? 0) !== 0 || x.shape.length === 0 || x.dtype === 'string' || x.dtype === 'complex64') {
      return fallback(args);
    }
    const backend = asWasm(args.backend);
    const rows = x.shape[0];
    const rowSize = sizeOf(x.shape.slice(1));
    const outShape = [...indices.shape, ...x.shape.slice(1)];
    const out = backend.makeOutput(outShape, x.dtype);
    const n = sizeOf(indices.shape);
    if (n === 0 || rowSize === 0) return out;
    // Read everything only after the allocation above (heap growth detaches older views).
    const ids = backend.typedArrayFromHeap(indices);
    // float32, int32 and bool (1 byte) share one code path through byte offsets.
    const bytes = x.dtype === 'bool' ? 1 : 4;
    const heap = bytes === 1 ? backend.wasm.HEAPU8 : backend.wasm.HEAP32;
    const src = wasmOffset(backend, x) / bytes;
    const dst = wasmOffset(backend, out) / bytes;
    for (let i = 0; i < n; i++) {
      const r = ids[i];
      if (!(r >= 0 && r < rows)) {
        backend.disposeData(out.dataId);
        throw new Error(`GatherV2: the index value ${r} is not in [0, ${rows - 1}]`);
      }
      const from = src + r * rowSize;
      heap.copyWithin(dst + i * rowSize, from, from + rowSize);
    }
    return out;
  };
  return { ...original, kernelFunc: kernelFunc as unknown as TF.KernelFunc };
}
