/** Typed arrays in SharedArrayBuffers: posting one to a worker thread shares it instead of copying it. */

/** A copy of an array into shared memory. */
export function shareArray<T extends Int32Array | Float32Array>(a: T): T {
  const buffer = new SharedArrayBuffer(Math.max(1, a.byteLength));
  const out = (a instanceof Int32Array ? new Int32Array(buffer, 0, a.length) : new Float32Array(buffer, 0, a.length)) as T;
  out.set(a);
  return out;
}

type WaitAsync = (a: Int32Array, index: number, value: number, timeoutMs?: number) => { async: false; value: string } | { async: true; value: Promise<string> };
// ES2024 (Node ≥ 16 has it); the project's lib is ES2022.
const waitAsync = (Atomics as unknown as { waitAsync: WaitAsync }).waitAsync;

/**
 * Resolves once `a[i] ≥ n` for every i except `skip` (a counter each thread raises with
 * Atomics.store + Atomics.notify), without blocking this thread's event loop: `check` runs after
 * every wake-up and may throw to give up (a failed thread never raises its counter; notify the
 * slots to wake the wait at once).
 */
export async function waitForAll(a: Int32Array, n: number, skip: number, check: () => void): Promise<void> {
  for (let i = 0; i < a.length; i++) {
    if (i === skip) continue;
    for (let v = Atomics.load(a, i); v < n; v = Atomics.load(a, i)) {
      check();
      const r = waitAsync(a, i, v, 200);
      if (r.async) await r.value;
    }
  }
  check();
}

/** waitForAll, blocking (for worker threads, which have nothing else to do meanwhile). */
export function waitForAllSync(a: Int32Array, n: number, skip: number): void {
  for (let i = 0; i < a.length; i++) {
    if (i === skip) continue;
    for (let v = Atomics.load(a, i); v < n; v = Atomics.load(a, i)) Atomics.wait(a, i, v, 1000);
  }
}
