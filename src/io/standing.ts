/**
 * What a nightly owner asks of a checkpoint first (docs/nightly.md): did its gate pass, against
 * which baseline, and is it production (or when was it). Read for `rec runs` and `rec report`
 * from the records other commands write: the `gates` and `baseline` of an eval file (`rec eval
 * --baseline/--max-drop/--fail-under`), and a promotion folder's `production` link and
 * `promotions.jsonl` (`rec promote`). Tolerant on purpose: a torn or unknown history line, or a
 * `production` that is not a link, becomes a note, never a failure of the listing.
 */
import { lstat, readlink, realpath } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { RecError } from '../util/errors.js';
import { lowerIsBetter } from '../util/metric-direction.js';
import { readRecordText } from './checkpoint-read.js';

export const PRODUCTION_LINK = 'production';
export const PROMOTIONS_FILE = 'promotions.jsonl';

export interface GateSummary {
  /** The eval file that recorded the gate, e.g. `eval-test-full.json`. */
  file: string;
  passed: boolean;
  created: string | null;
  /** The baseline's real folder (`--baseline`); null for a gate of `--fail-under` floors only. */
  baseline: string | null;
  /** The link `--baseline` was given as (`DIR/production`), when it was one. */
  baseline_pointer: string | null;
  baseline_weights_sha256: string | null;
  /** Whether the baseline is what a `production` link points at now; null when no production is known. */
  baseline_is_production: boolean | null;
  /** Each check in words, e.g. `ndcg@10 dropped 11.7% (allowed 10%)`. */
  checks: string[];
  /** The checks that failed, in words; empty when the gate passed. */
  failed: string[];
}

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: unknown): string | null => (typeof v === 'string' ? v : null);
const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);
const short = (v: number): string => String(Number(v.toPrecision(4)));

function describeCheck(c: Json): string {
  const metric = str(c.metric) ?? '?';
  const threshold = num(c.threshold);
  const value = num(c.value);
  if (c.kind === 'fail_under') {
    const bound = lowerIsBetter(metric) ? 'ceiling' : 'floor';
    return `${metric} ${value === null ? '?' : short(value)} (${bound} ${threshold === null ? '?' : short(threshold)})`;
  }
  const drop = num(c.drop);
  const base = num(c.baseline);
  const allowed = `allowed ${threshold === null ? '?' : short(threshold)}${c.percent === true ? '%' : ''}`;
  if (drop === null) return `${metric} vs baseline (${allowed})`;
  const moved = drop <= 0 ? 'did not drop' : c.percent === true && base !== null && base !== 0 ? `dropped ${short((drop / Math.abs(base)) * 100)}%` : `dropped ${short(drop)}`;
  return `${metric} ${moved} (${allowed})`;
}

/** The gate an eval file records (null when it was run without gates). */
export function gateOf(file: string, evalFile: Json): GateSummary | null {
  const g = evalFile.gates;
  if (!isObject(g) || typeof g.passed !== 'boolean') return null;
  const checks = Array.isArray(g.checks) ? g.checks.filter(isObject) : [];
  const b = isObject(evalFile.baseline) ? evalFile.baseline : null;
  return {
    file,
    passed: g.passed,
    created: str(evalFile.created),
    baseline: b ? str(b.checkpoint) : null,
    baseline_pointer: b ? str(b.pointer) : null,
    baseline_weights_sha256: b ? str(b.weights_sha256) : null,
    baseline_is_production: null,
    checks: checks.map(describeCheck),
    failed: checks.filter((c) => c.passed !== true).map(describeCheck),
  };
}

/** The most recent gate (by `created`, then file name): what the last `rec eval` with gates said. */
export function latestGate(gates: readonly (GateSummary | null)[]): GateSummary | null {
  let best: GateSummary | null = null;
  for (const g of gates) {
    if (g === null) continue;
    if (best === null || (g.created ?? '') > (best.created ?? '') || ((g.created ?? '') === (best.created ?? '') && g.file > best.file)) best = g;
  }
  return best;
}

export interface Promotion {
  /** Whether a `production` link points at this checkpoint now. */
  production: boolean;
  /** Those links. */
  links: string[];
  /** When it was last switched to production (promotions.jsonl); null when never, as far as the history says. */
  promoted_at: string | null;
  /** Whether that switch was `--force`d, and the eval file that allowed it. */
  forced: boolean | null;
  eval: string | null;
}

interface HistoryEntry {
  at: string;
  forced: boolean | null;
  eval: string | null;
  /** False for a line announcing a switch that may not have happened (an intent without its confirmation). */
  done: boolean;
}

export interface ProductionState {
  /** Real checkpoint folder → the `production` links that point at it. */
  links: Map<string, string[]>;
  /** Real checkpoint folder → its history lines, in file order. */
  history: Map<string, HistoryEntry[]>;
  /** What could not be read, in words (shown as warnings, never a failure). */
  notes: string[];
}

// A history line without a status is a switch (rec promote before intent lines); one with a status
// counts as done only when it says so (`done`), or, for an `intent` whose confirmation was lost,
// when the next line's `previous` is its checkpoint; `abandoned` and unknown ones never count.
const DONE_STATUS = /^(done|confirmed)$/i;

async function readLink(dir: string, state: ProductionState): Promise<void> {
  const link = join(dir, PRODUCTION_LINK);
  const info = await lstat(link).catch(() => null);
  if (info === null) return;
  if (!info.isSymbolicLink()) {
    state.notes.push(`${link} is a ${info.isDirectory() ? 'folder' : 'file'}, not a link made by rec promote; no production is known there`);
    return;
  }
  try {
    const target = await realpath(link);
    state.links.set(target, [...(state.links.get(target) ?? []), link]);
  } catch {
    const raw = await readlink(link).catch(() => '?');
    state.notes.push(`${link} points at ${resolve(dir, raw)}, which no longer exists`);
  }
}

async function readHistory(dir: string, state: ProductionState): Promise<void> {
  const path = join(dir, PROMOTIONS_FILE);
  if (!(await lstat(path).catch(() => null))) return;
  let text: string;
  try {
    text = await readRecordText(path, 'the promotion history');
  } catch (error) {
    if (!(error instanceof RecError)) throw error;
    state.notes.push(error.message);
    return;
  }
  const parsed: { real: string; previous: string | null; status: string | null; entry: HistoryEntry }[] = [];
  let skipped = 0;
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    let v: unknown;
    try {
      v = JSON.parse(line);
    } catch {
      v = null;
    }
    const ckpt = isObject(v) ? str(v.checkpoint) : null;
    const at = isObject(v) ? str(v.at) : null;
    if (!isObject(v) || ckpt === null || at === null) {
      skipped++;
      continue;
    }
    const status = str(v.status);
    const previous = str(v.previous);
    const real = await realpath(resolve(dir, ckpt)).catch(() => resolve(dir, ckpt));
    parsed.push({ real, previous: previous === null ? null : await realpath(resolve(dir, previous)).catch(() => resolve(dir, previous)), status, entry: { at, forced: typeof v.forced === 'boolean' ? v.forced : null, eval: str(v.eval), done: status === null || DONE_STATUS.test(status) } });
  }
  for (const [i, p] of parsed.entries()) {
    if (p.status === 'intent' && parsed[i + 1]?.previous === p.real) p.entry.done = true;
    state.history.set(p.real, [...(state.history.get(p.real) ?? []), p.entry]);
  }
  if (skipped > 0) state.notes.push(`${path}: ${skipped} line${skipped === 1 ? '' : 's'} without "checkpoint" and "at" skipped (torn or not written by rec promote)`);
}

/** The `production` links and promotion histories held directly in `dirs` (promotion folders). */
export async function readProduction(dirs: Iterable<string>): Promise<ProductionState> {
  const state: ProductionState = { links: new Map(), history: new Map(), notes: [] };
  const seen = new Set<string>();
  for (const dir of dirs) {
    const real = await realpath(dir).catch(() => null);
    if (real === null || seen.has(real)) continue;
    seen.add(real);
    await readLink(dir, state);
    await readHistory(dir, state);
  }
  return state;
}

/** A checkpoint's promotion status; `real` is its folder's real path (links resolved). */
export function promotionOf(state: ProductionState, real: string | null): Promotion {
  const links = real === null ? [] : (state.links.get(real) ?? []);
  const entries = real === null ? [] : (state.history.get(real) ?? []);
  // An intent line is trusted only when the link shows its switch happened (the confirmation was lost).
  const last = entries.filter((e) => e.done).at(-1) ?? (links.length > 0 ? entries.at(-1) : undefined);
  return { production: links.length > 0, links, promoted_at: last?.at ?? null, forced: last?.forced ?? null, eval: last?.eval ?? null };
}

/** Says on each gate whether its baseline is the current production (a gate against an older one no longer promotes). */
export function markBaselines(state: ProductionState, gates: Iterable<GateSummary | null>): void {
  if (state.links.size === 0) return;
  for (const g of gates) if (g !== null && g.baseline !== null) g.baseline_is_production = state.links.has(g.baseline);
}

/** The folders that may hold a promotion of `ckpt`: its parent, and the parent's parent (DIR/checkpoints/NIGHT). */
export function promotionFoldersOf(ckpt: string): string[] {
  const parent = dirname(ckpt);
  return [parent, dirname(parent)];
}
