/**
 * DIR/promotions.jsonl (docs/nightly.md, "Promotion"): one JSON line per promotion, written before
 * the switch and confirmed after it, so that no kill can leave production switched without a line
 * saying so. A line's `status`:
 * - `intent`: written before the switch; the promotion may or may not have happened. Where the
 *   production link points decides (or, for an earlier line, the next line's `previous`);
 * - `done`: the link was switched (lines from rec versions before intents have no status: done);
 * - `abandoned`: interrupted before the switch; production stayed `previous`.
 * The next `rec promote` settles an interrupted `intent` by the link (`"recovered": true`). The
 * file is rewritten whole and atomically each time, so it never holds a torn line.
 */
import { lstat, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../io/atomic.js';
import { PROMOTION_HISTORY } from '../io/promoted.js';
import { UsageError } from '../util/errors.js';

export type PromotionStatus = 'intent' | 'done' | 'abandoned';

export interface PromotionLine {
  at: string;
  checkpoint: string;
  previous: string | null;
  forced: boolean;
  eval: string | null;
  status?: PromotionStatus;
  /** Settled by a later rec promote after an interrupted one. */
  recovered?: boolean;
}

export interface Promotion extends PromotionLine {
  /** 1-based line in the file. */
  line: number;
  /** Whether production was switched to `checkpoint` by this promotion. */
  switched: boolean;
}

export const historyPath = (dir: string): string => join(dir, PROMOTION_HISTORY);

/** The history's text ('' when absent); exit 2 when something other than a file sits there. */
export async function readHistoryText(dir: string): Promise<string> {
  const path = historyPath(dir);
  let info;
  try {
    info = await lstat(path);
  } catch {
    return '';
  }
  if (!info.isFile()) {
    throw new UsageError(`${path} is not the promotion history file rec promote writes (it is a ${info.isDirectory() ? 'folder' : info.isSymbolicLink() ? 'link' : 'special file'}); rec never replaces it. Move it away, or promote into another --to DIR. Production is unchanged.`);
  }
  return readFile(path, 'utf8');
}

function parseLine(text: string): PromotionLine | null {
  try {
    const value = JSON.parse(text) as Partial<PromotionLine> | null;
    return typeof value === 'object' && value !== null && typeof value.checkpoint === 'string' ? (value as PromotionLine) : null;
  } catch {
    return null;
  }
}

function lines(text: string): { line: number; raw: string; entry: PromotionLine | null }[] {
  return text
    .split('\n')
    .map((raw, i) => ({ line: i + 1, raw, entry: raw.trim() === '' ? null : parseLine(raw) }))
    .filter((l) => l.raw.trim() !== '');
}

/**
 * Every promotion recorded in DIR, with whether it switched production. `production` is the real
 * path the link points at now (null when there is none): it decides the last unconfirmed intent.
 * Lines that are not promotion records are left out.
 */
export async function readPromotions(dir: string, production: string | null): Promise<Promotion[]> {
  const entries = lines(await readHistoryText(dir)).filter((l) => l.entry !== null);
  return entries.map(({ line, entry }, i) => {
    const e = entry as PromotionLine;
    const next = entries[i + 1]?.entry;
    const switched = e.status === 'abandoned' ? false : e.status !== 'intent' ? true : next ? next.previous === e.checkpoint : production === e.checkpoint;
    return { ...e, line, switched };
  });
}

async function writeLines(dir: string, raws: string[]): Promise<void> {
  await writeFileAtomic(historyPath(dir), raws.length === 0 ? '' : `${raws.join('\n')}\n`);
}

/**
 * Settles an intent that an interrupted rec promote left as the last line, by where the link
 * points now; returns what it decided (null when there was nothing to settle).
 */
export async function settleInterrupted(dir: string, production: string | null): Promise<PromotionLine | null> {
  const all = lines(await readHistoryText(dir));
  const last = all.at(-1);
  if (last?.entry?.status !== 'intent') return null;
  const settled: PromotionLine = { ...last.entry, status: production === last.entry.checkpoint ? 'done' : 'abandoned', recovered: true };
  await writeLines(dir, [...all.slice(0, -1).map((l) => l.raw), JSON.stringify(settled)]);
  return settled;
}

/** Appends `entry` with status `intent`; returns the line written, for confirmIntent. */
export async function writeIntent(dir: string, entry: Omit<PromotionLine, 'status'>): Promise<string> {
  const raw = JSON.stringify({ ...entry, status: 'intent' });
  await writeLines(dir, [...lines(await readHistoryText(dir)).map((l) => l.raw), raw]);
  return raw;
}

/** Marks the intent line `raw` (written by writeIntent) as done. */
export async function confirmIntent(dir: string, raw: string): Promise<void> {
  const all = lines(await readHistoryText(dir)).map((l) => l.raw);
  const at = all.lastIndexOf(raw);
  const done = JSON.stringify({ ...(JSON.parse(raw) as PromotionLine), status: 'done' });
  if (at === -1) all.push(done);
  else all[at] = done;
  await writeLines(dir, all);
}
