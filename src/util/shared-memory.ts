/** Typed arrays in SharedArrayBuffers: posting one to a worker thread shares it instead of copying it. */

/** A copy of an array into shared memory. */
export function shareArray<T extends Int32Array | Float32Array>(a: T): T {
  const buffer = new SharedArrayBuffer(Math.max(1, a.byteLength));
  const out = (a instanceof Int32Array ? new Int32Array(buffer, 0, a.length) : new Float32Array(buffer, 0, a.length)) as T;
  out.set(a);
  return out;
}
