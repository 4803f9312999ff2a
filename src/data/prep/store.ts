/**
 * The accepted rows as growable typed-array columns: 4 (user) + 4 (item) + 4 (value) + 8 (ts) +
 * 4 (seq) bytes a row, plus 2 for the event code when the log has events (docs/design.md#the-dataset-folder: about 24
 * bytes a row, never a JS object per row). Rows are stored in input order while reading, so the
 * storage index order equals seq order until order.ts arrangeRows puts them in (user, ts, seq)
 * order.
 */
import { DataError } from '../../util/errors.js';

type Growable = Int32Array | Float32Array | Float64Array | Uint32Array | Uint16Array;

function grow<T extends Growable>(a: T, capacity: number): T {
  const b = new (a.constructor as new (n: number) => T)(capacity);
  b.set(a);
  return b;
}

export class RowStore {
  length = 0;
  users: Int32Array;
  items: Int32Array;
  values: Float32Array;
  ts: Float64Array | null;
  seq: Uint32Array;
  events: Uint16Array | null;
  /** Query index per row (into Ingest.queries), in a search log only. */
  queries: Int32Array | null;

  constructor(hasTs: boolean, hasEvents: boolean, capacity = 1 << 16, hasQueries = false) {
    this.users = new Int32Array(capacity);
    this.items = new Int32Array(capacity);
    this.values = new Float32Array(capacity);
    this.ts = hasTs ? new Float64Array(capacity) : null;
    this.seq = new Uint32Array(capacity);
    this.events = hasEvents ? new Uint16Array(capacity) : null;
    this.queries = hasQueries ? new Int32Array(capacity) : null;
  }

  get capacity(): number {
    return this.users.length;
  }

  /** Make room for at least `extra` more rows (grows by 1.5×). */
  reserve(extra: number): void {
    const need = this.length + extra;
    if (need <= this.users.length) return;
    if (need > 0xffffffff) throw new DataError(`Too many rows for one dataset: more than ${0xffffffff} accepted rows.`);
    const cap = Math.max(need, Math.ceil(this.users.length * 1.5));
    this.users = grow(this.users, cap);
    this.items = grow(this.items, cap);
    this.values = grow(this.values, cap);
    if (this.ts) this.ts = grow(this.ts, cap);
    this.seq = grow(this.seq, cap);
    if (this.events) this.events = grow(this.events, cap);
    if (this.queries) this.queries = grow(this.queries, cap);
  }

  push(user: number, item: number, value: number, ts: number, seq: number, event: number, query = 0): void {
    const i = this.length;
    if (i === this.users.length) this.reserve(1);
    this.users[i] = user;
    this.items[i] = item;
    this.values[i] = value;
    if (this.ts) this.ts[i] = ts;
    this.seq[i] = seq;
    if (this.events) this.events[i] = event;
    if (this.queries) this.queries[i] = query;
    this.length = i + 1;
  }
}
