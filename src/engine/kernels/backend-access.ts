/**
 * Narrow structural views of the cpu and wasm backends' internals that our kernels and the
 * row-sparse optimizer need. Typing them here (instead of importing the backend packages' classes)
 * keeps the rest of src/engine independent of tfjs-backend-cpu's hoisting and lets the
 * compiler check every internal we touch in one place. All of these exist in tfjs 4.22.0
 * (verified in node_modules/@tensorflow/tfjs-backend-{cpu,wasm}/dist).
 */
import type * as TF from '@tensorflow/tfjs';
import { tf } from '../tf.js';

export type DataId = object;
export type NumericArray = Float32Array | Int32Array | Uint8Array;

export interface CpuBackendLike {
  data: { get(dataId: DataId): { values: unknown } | undefined; has(dataId: DataId): boolean };
  makeTensorInfo(shape: number[], dtype: TF.DataType, values?: NumericArray): TF.TensorInfo;
}

export interface WasmModuleLike {
  HEAPU8: Uint8Array;
  HEAPF32: Float32Array;
  HEAP32: Int32Array;
  tfjs: {
    registerTensor(id: number, size: number, memoryOffset: number): void;
    disposeData(id: number): void;
  };
}

export interface WasmBackendLike {
  wasm: WasmModuleLike;
  dataIdMap: { get(dataId: DataId): { id: number; memoryOffset: number } | undefined; has(dataId: DataId): boolean };
  makeOutput(shape: number[], dtype: TF.DataType): TF.TensorInfo;
  typedArrayFromHeap(info: TF.TensorInfo): NumericArray;
  disposeData(dataId: DataId, force?: boolean): boolean;
}

export function asCpu(backend: unknown): CpuBackendLike {
  return backend as CpuBackendLike;
}

export function asWasm(backend: unknown): WasmBackendLike {
  return backend as WasmBackendLike;
}

/** The live values array of a cpu-backend tensor (mutating it mutates the tensor). */
export function cpuValues(backend: CpuBackendLike, info: TF.TensorInfo): NumericArray {
  const entry = backend.data.get(info.dataId);
  const values = entry?.values;
  if (!(values instanceof Float32Array || values instanceof Int32Array || values instanceof Uint8Array)) {
    throw new Error(`engine: cpu tensor ${info.shape} (${info.dtype}) has no numeric values array`);
  }
  return values;
}

/** Byte offset of a wasm tensor in the heap; views of the heap must be re-made after any allocation. */
export function wasmOffset(backend: WasmBackendLike, info: TF.TensorInfo): number {
  const entry = backend.dataIdMap.get(info.dataId);
  if (entry === undefined) throw new Error('engine: tensor is not on the wasm backend');
  return entry.memoryOffset;
}

export function sizeOf(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

interface EngineInternals {
  registry: Record<string, unknown>;
  state: { tensorInfo: WeakMap<DataId, { backend: unknown } | undefined> };
}

/**
 * The backend that currently holds a tensor's data and its registered name. Tensors created before
 * a `setBackend` switch stay on their old backend until a kernel moves them, so the current
 * backend is not necessarily the owner.
 */
export function owningBackend(t: TF.TensorInfo): { name: string; backend: unknown } {
  const engine = tf.engine() as unknown as EngineInternals;
  const info = engine.state.tensorInfo.get(t.dataId);
  if (info === undefined) throw new Error('engine: tensor is disposed or unknown to the engine');
  for (const [name, backend] of Object.entries(engine.registry)) {
    if (backend === info.backend) return { name, backend };
  }
  return { name: 'unknown', backend: info.backend };
}
