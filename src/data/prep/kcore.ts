/**
 * Iterative k-core on the user–item graph: drop every row whose user has fewer than `minUser` rows
 * or whose item has fewer than `minItem` rows, and repeat until nothing changes. The result is the
 * unique largest subset in which every user and item meets its minimum, whatever the removal order.
 */
import type { RowStore } from './store.js';
import { REMOVED_KCORE, isAlive } from './order.js';

export interface KcoreResult {
  removed: number;
  iterations: number;
}

export function kcoreRows(store: RowStore, assign: Uint8Array, nUsers: number, nItems: number, minUser: number, minItem: number): KcoreResult {
  if (minUser <= 1 && minItem <= 1) return { removed: 0, iterations: 0 };
  const uc = new Int32Array(nUsers);
  const ic = new Int32Array(nItems);
  const items = store.items;
  const runs = store.runs;
  for (let u = 0; u < nUsers; u++) {
    const end = runs[u + 1];
    for (let i = runs[u]; i < end; i++) {
      if (!isAlive(assign[i])) continue;
      uc[u]++;
      ic[items[i]]++;
    }
  }
  let removed = 0;
  let iterations = 0;
  for (;;) {
    iterations++;
    let pass = 0;
    for (let u = 0; u < nUsers; u++) {
      const end = runs[u + 1];
      for (let i = runs[u]; i < end; i++) {
        if (!isAlive(assign[i])) continue;
        const it = items[i];
        if (uc[u] < minUser || ic[it] < minItem) {
          assign[i] = REMOVED_KCORE;
          uc[u]--;
          ic[it]--;
          pass++;
        }
      }
    }
    removed += pass;
    if (pass === 0) break;
  }
  return { removed, iterations };
}
