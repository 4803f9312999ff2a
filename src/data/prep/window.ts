/**
 * `rec prep --window DAYS` (docs/datasets.md): drops rows older than DAYS days before the newest
 * timestamp, base rows and new alike.
 *
 * "Newest" must be something a single bad row cannot move: one timestamp read in the wrong unit
 * (milliseconds among seconds under --ts-unit s lands in the year 29706) would otherwise put the
 * cut after every other row and age out the whole history. So the window counts back from the
 * anchor, the newest timestamp consistent with the bulk of the data. Among the rows no more than a
 * day after the time of running (the limit of the "future timestamps" warning), take k = 1 + one
 * per thousand rows of the new logs; the reference is the (k+1)-th newest timestamp, which k rows
 * cannot move. The anchor is the newest timestamp at most an hour after the reference, so k rows
 * move the cut by an hour at most. On the logs of a night, whose newest rows lie seconds apart,
 * the anchor is the newest timestamp itself; rows newer than the anchor are kept, they just do not
 * set the cut.
 *
 * Under --append-to, a window that would age out most of the base is refused unless forced
 * (--force-window): an in-place append would lose that history for good.
 */
import { DataError } from '../../util/errors.js';
import type { ManifestWindow } from '../manifest.js';
import { REMOVED_WINDOW } from './order.js';
import type { RowStore } from './store.js';
import { DAY_MS } from './timestamps.js';

/** How far the anchor may lie after the robust reference: as far as a few bad rows can move the cut. */
const ANCHOR_SLACK_MS = 3_600_000;

function isoOf(ms: number | null): string | null {
  if (ms === null) return null;
  const d = new Date(ms);
  return Number.isNaN(d.getTime()) ? null : d.toISOString();
}

/** The k+1 largest values pushed, in a min-heap: top() is the (k+1)-th largest once full. */
class TopK {
  private readonly heap: Float64Array;
  size = 0;
  constructor(k: number) {
    this.heap = new Float64Array(k + 1);
  }
  top(): number {
    return this.heap[0];
  }
  push(v: number): void {
    const h = this.heap;
    if (this.size < h.length) {
      let i = this.size++;
      h[i] = v;
      while (i > 0 && h[(i - 1) >> 1] > h[i]) {
        const p = (i - 1) >> 1;
        [h[p], h[i]] = [h[i], h[p]];
        i = p;
      }
      return;
    }
    if (v <= h[0]) return;
    h[0] = v;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < h.length && h[l] < h[m]) m = l;
      if (r < h.length && h[r] < h[m]) m = r;
      if (m === i) return;
      [h[m], h[i]] = [h[i], h[m]];
      i = m;
    }
  }
}

export interface WindowAnchor {
  /** The largest timestamp of all rows. */
  newest: number;
  /** What the window counts back from (see the file comment). */
  anchor: number;
}

/** Anchor of the window over the rows' timestamps; null when no row has one. `seqStart`: first seq of the new logs' rows. */
export function windowAnchor(store: RowStore, seqStart: number, now: number): WindowAnchor | null {
  if (!store.hasTs) return null;
  const n = store.length;
  let newest = Number.NEGATIVE_INFINITY;
  let plausible = 0;
  const limit = now + DAY_MS;
  for (let i = 0; i < n; i++) {
    const t = store.tsAt(i);
    if (!Number.isFinite(t)) continue;
    if (t > newest) newest = t;
    if (t <= limit) plausible++;
  }
  // Rows are still in seq order here: the new logs' rows are the last ones.
  const fresh = n - store.firstRowFromSeq(seqStart);
  if (!Number.isFinite(newest)) return null;
  // When every row is "in the future" (a clock far off, synthetic dates), they are the bulk.
  const cap = plausible > 0 ? limit : Number.POSITIVE_INFINITY;
  const top = new TopK(1 + Math.floor(fresh / 1000));
  for (let i = 0; i < n; i++) {
    const t = store.tsAt(i);
    if (t <= cap) top.push(t);
  }
  const reference = top.top();
  const reach = Math.min(reference + ANCHOR_SLACK_MS, cap);
  let anchor = reference;
  for (let i = 0; i < n; i++) {
    const t = store.tsAt(i);
    if (t <= reach && t > anchor) anchor = t;
  }
  return { newest, anchor };
}

/** Marks rows older than `days` before the anchor REMOVED_WINDOW (any split). */
export function ageOut(store: RowStore, assign: Uint8Array, days: number, at: WindowAnchor | null): ManifestWindow {
  if (at === null) return { days, newest_ts: null, anchor_ts: null, from_ts: null, from_iso: null, aged_out: 0 };
  const from = at.anchor - Math.round(days * DAY_MS);
  let aged = 0;
  if (store.hasTs) {
    for (let i = 0; i < store.length; i++) {
      if (store.tsAt(i) < from) {
        assign[i] = REMOVED_WINDOW;
        aged++;
      }
    }
  }
  return { days, newest_ts: at.newest, anchor_ts: at.anchor, from_ts: from, from_iso: isoOf(from), aged_out: aged };
}

/** The warning for rows after the anchor (kept, but their times look wrong); null when there are none. */
export function aheadOfAnchor(store: RowStore, at: WindowAnchor | null): string | null {
  if (at === null || !store.hasTs || at.newest <= at.anchor) return null;
  let ahead = 0;
  for (let i = 0; i < store.length; i++) if (store.tsAt(i) > at.anchor) ahead++;
  const one = ahead === 1;
  return (
    `--window counts back from ${isoOf(at.anchor)}, not from the newest timestamp ${isoOf(at.newest) ?? String(at.newest)}: ${ahead} row${one ? ' lies' : 's lie'} more than an hour after the rest of the data, ` +
    `so ${one ? 'its time looks' : 'their times look'} wrong (check --ts-unit and those rows' ts). ${one ? 'It is' : 'They are'} kept.`
  );
}

/**
 * Under --append-to: refuses (exit 1) a window that ages out most of the base's rows, unless
 * `force` (--force-window). Rows of the base are those with seq below `seqStart`.
 */
export function checkBaseAgedOut(store: RowStore, assign: Uint8Array, seqStart: number, w: ManifestWindow, force: boolean): void {
  if (force || w.aged_out === 0) return;
  let aged = 0;
  // Rows are still in seq order here: the base's rows are the first ones.
  const base = store.firstRowFromSeq(seqStart);
  for (let i = 0; i < base; i++) {
    if (assign[i] === REMOVED_WINDOW) aged++;
  }
  if (aged * 2 <= base) return;
  const fmt = (x: number): string => String(x).replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  throw new DataError(
    `--window ${w.days} would age out ${fmt(aged)} of the base dataset's ${fmt(base)} rows: every row before ${w.from_iso ?? '-'}, ${w.days} days before ${isoOf(w.anchor_ts ?? null) ?? '-'}, ${w.newest_ts !== w.anchor_ts ? `which the window counts back from (the newest timestamp, ${isoOf(w.newest_ts) ?? String(w.newest_ts)}, lies apart from the rest)` : 'the newest timestamp of the data'}. ` +
      'Nothing was written. If the base is older than the window on purpose (the job was stopped for a while, or --window was shortened), add --force-window; ' +
      'if not, check the new logs\' timestamps (--ts-unit, --ts-format) before appending them.',
  );
}
