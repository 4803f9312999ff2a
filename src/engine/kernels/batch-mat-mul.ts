/**
 * BatchMatMul wrapper for wasm that routes every case onto the one fast path of the stock kernel.
 *
 * Why: wasm 4.22 hands a matmul to XNNPACK's fully-connected operator only when the batch is 1 and
 * neither operand is transposed; everything else (every backward matmul, all batched attention)
 * runs a naive C++ loop at 1.4–2 GFLOP/s against about 14 GFLOP/s on the fast path (docs/engines.md#tfjs-behaviour-the-code-relies-on).
 *
 * - batch 1: materialise the transposed operands with wasm `Transpose` and call the original with
 *   no transposes. Of C = op(A)·op(B) and C = (op(B)ᵀ·op(A)ᵀ)ᵀ it picks the one that copies fewer
 *   elements.
 * - A batched, B shared (batch 1) and A not transposed: one [batch·M, K] × op(B) product.
 * - otherwise: one fast-path product per batch entry on fresh single-batch copies. Fresh copies
 *   matter: XNNPACK caches packed right-hand operands by tensor id (docs/engines.md#tfjs-behaviour-the-code-relies-on), so slices
 *   must never alias an id whose contents change.
 * Broadcast batch shapes other than "equal" or "one side is 1" go to the original kernel.
 */
import type * as TF from '@tensorflow/tfjs';
import { tf } from '../tf.js';
import { asWasm, sizeOf, wasmOffset, type WasmBackendLike } from './backend-access.js';

type KernelArgs = { inputs: TF.NamedTensorInfoMap; backend: unknown; attrs?: TF.NamedAttrMap };
type Kernel = (args: KernelArgs) => TF.TensorInfo;

/** A 3-D view [1, rows, cols] of existing data: no copy, same data id. */
function view(t: TF.TensorInfo, rows: number, cols: number): TF.TensorInfo {
  return { dataId: t.dataId, shape: [1, rows, cols], dtype: t.dtype };
}

export function makeBatchMatMulWasm(original: TF.KernelConfig, transposeKernel: TF.KernelConfig): TF.KernelConfig {
  const orig = original.kernelFunc as unknown as Kernel;
  const transposeFn = transposeKernel.kernelFunc as unknown as Kernel;

  const fast = (backend: unknown, a: TF.TensorInfo, b: TF.TensorInfo): TF.TensorInfo =>
    orig({ inputs: { a, b }, backend, attrs: { transposeA: false, transposeB: false } });
  const transpose3 = (backend: unknown, x: TF.TensorInfo): TF.TensorInfo =>
    transposeFn({ inputs: { x }, backend, attrs: { perm: [0, 2, 1] } });

  /** op(A)·op(B) for 3-D single-batch operands, on the fast path. Returns [1, M, N]. */
  const product = (
    backend: WasmBackendLike,
    a: TF.TensorInfo,
    tA: boolean,
    b: TF.TensorInfo,
    tB: boolean,
    m: number,
    k: number,
    n: number,
  ): TF.TensorInfo => {
    if (!tA && !tB) return fast(backend, a, b);
    const temps: TF.TensorInfo[] = [];
    const tr = (x: TF.TensorInfo): TF.TensorInfo => {
      const y = transpose3(backend, x);
      temps.push(y);
      return y;
    };
    const direct = (tA ? m * k : 0) + (tB ? k * n : 0);
    const swapped = (tB ? 0 : k * n) + (tA ? 0 : m * k) + m * n;
    let result: TF.TensorInfo;
    if (direct <= swapped) {
      result = fast(backend, tA ? tr(a) : a, tB ? tr(b) : b);
    } else {
      const ct = fast(backend, tB ? b : tr(b), tA ? a : tr(a));
      temps.push(ct);
      result = transpose3(backend, ct);
    }
    for (const t of temps) backend.disposeData(t.dataId);
    return result;
  };

  /** A fresh single-batch copy of batch entry `i` of a rank-3-viewable tensor. */
  const sliceCopy = (backend: WasmBackendLike, t: TF.TensorInfo, i: number, rows: number, cols: number): TF.TensorInfo => {
    const out = backend.makeOutput([1, rows, cols], 'float32');
    const size = rows * cols;
    const src = wasmOffset(backend, t) / 4 + i * size;
    backend.wasm.HEAPF32.copyWithin(wasmOffset(backend, out) / 4, src, src + size);
    return out;
  };

  const kernelFunc = (args: KernelArgs): TF.TensorInfo => {
    const { a, b } = args.inputs as { a: TF.TensorInfo; b: TF.TensorInfo };
    const { transposeA: tA, transposeB: tB } = args.attrs as { transposeA: boolean; transposeB: boolean };
    if (a.dtype !== 'float32' || b.dtype !== 'float32' || a.shape.length < 2 || b.shape.length < 2) return orig(args);
    const backend = asWasm(args.backend);
    const ar = a.shape.length;
    const br = b.shape.length;
    const aRows = a.shape[ar - 2];
    const aCols = a.shape[ar - 1];
    const bRows = b.shape[br - 2];
    const bCols = b.shape[br - 1];
    const m = tA ? aCols : aRows;
    const k = tA ? aRows : aCols;
    const n = tB ? bRows : bCols;
    const kB = tB ? bCols : bRows;
    const batchA = sizeOf(a.shape.slice(0, -2));
    const batchB = sizeOf(b.shape.slice(0, -2));
    if (k !== kB || m === 0 || n === 0 || k === 0) return orig(args);
    const outer = tf.backend_util.assertAndGetBroadcastShape(a.shape.slice(0, -2), b.shape.slice(0, -2));
    const batch = sizeOf(outer);
    const simple = batchA === batchB || batchA === 1 || batchB === 1;
    if (!simple || batch !== Math.max(batchA, batchB)) return orig(args);
    const outShape = [...outer, m, n];

    if (batch === 1) {
      const r = product(backend, view(a, aRows, aCols), tA, view(b, bRows, bCols), tB, m, k, n);
      return { ...r, shape: outShape };
    }
    if (batchB === 1 && !tA) {
      const r = product(backend, view(a, batchA * aRows, aCols), false, view(b, bRows, bCols), tB, batchA * m, k, n);
      return { ...r, shape: outShape };
    }
    const out = backend.makeOutput(outShape, 'float32');
    const shared = batchB === 1 ? view(b, bRows, bCols) : null;
    for (let i = 0; i < batch; i++) {
      const ai = batchA === 1 ? view(a, aRows, aCols) : sliceCopy(backend, a, i, aRows, aCols);
      const bi = shared ?? sliceCopy(backend, b, i, bRows, bCols);
      const ri = product(backend, ai, tA, bi, tB, m, k, n);
      const size = m * n;
      const src = wasmOffset(backend, ri) / 4;
      backend.wasm.HEAPF32.copyWithin(wasmOffset(backend, out) / 4 + i * size, src, src + size);
      backend.disposeData(ri.dataId);
      if (batchA !== 1) backend.disposeData(ai.dataId);
      if (shared === null) backend.disposeData(bi.dataId);
    }
    return out;
  };
  return { ...original, kernelFunc: kernelFunc as unknown as TF.KernelFunc };
}
