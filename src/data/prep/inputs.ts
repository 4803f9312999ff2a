/**
 * The input arguments of `rec prep` and `rec drift` as files: a folder is read recursively (a
 * warehouse table: `events/dt=2024-06-01/part-0.parquet`), a glob (`events/dt=2024-06-*` /
 * `**\/*.parquet`) is expanded, anything else is a file. Files come in path order, so day partitions
 * are read oldest first and a run is the same whatever order the file system lists them in.
 */
import { readdir, stat } from 'node:fs/promises';
import { join, sep } from 'node:path';
import { UsageError } from '../../util/errors.js';
import { fileKind, type InputFormat } from './options.js';

/** Extensions a folder's files are read by when no --format is given (`.gz` of the text ones too). */
const DATA_EXTS = new Set(['.parquet', '.parq', '.pq', '.arrow', '.feather', '.ipc', '.arrows', '.csv', '.tsv', '.tab', '.jsonl', '.ndjson', '.json', '.txt', '.dat']);

/**
 * Spark and Hive leave markers beside the data (`_SUCCESS`, `_committed_…`, `.part-0.crc`): a
 * name starting with `_` or `.` is never data.
 */
function isHidden(name: string): boolean {
  return name.startsWith('_') || name.startsWith('.');
}

function byPath(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

async function isDir(path: string): Promise<boolean | null> {
  try {
    return (await stat(path)).isDirectory();
  } catch {
    return null;
  }
}

/** Every data file under `dir`, recursively, in path order. */
async function walk(dir: string, format: 'auto' | InputFormat): Promise<string[]> {
  const out: string[] = [];
  const entries = await readdir(dir, { withFileTypes: true });
  entries.sort((a, b) => byPath(a.name, b.name));
  for (const e of entries) {
    if (isHidden(e.name)) continue;
    const path = join(dir, e.name);
    if (e.isDirectory()) out.push(...(await walk(path, format)));
    else if (format !== 'auto' || DATA_EXTS.has(fileKind(path, 'auto').ext)) out.push(path);
  }
  return out;
}

export function hasGlob(path: string): boolean {
  return /[*?[]/.test(path);
}

/** A glob segment as a RegExp: `*` and `?` within a name, `[abc]` a class. */
function segmentRegex(segment: string): RegExp {
  let re = '';
  for (const ch of segment) {
    if (ch === '*') re += '[^/]*';
    else if (ch === '?') re += '[^/]';
    else if (ch === '[' || ch === ']') re += ch;
    else re += ch.replace(/[.+^${}()|\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

/** Paths matching the segments from `base` on; `**` matches any number of folders. */
async function matchSegments(base: string, segments: readonly string[], format: 'auto' | InputFormat): Promise<string[]> {
  if (segments.length === 0) {
    const dir = await isDir(base);
    if (dir === null) return [];
    return dir ? walk(base, format) : [base];
  }
  const [head, ...rest] = segments;
  if (!hasGlob(head)) return matchSegments(join(base, head), rest, format);
  let entries;
  try {
    entries = await readdir(base, { withFileTypes: true });
  } catch {
    return [];
  }
  entries.sort((a, b) => byPath(a.name, b.name));
  const out: string[] = [];
  if (head === '**') {
    out.push(...(await matchSegments(base, rest, format)));
    for (const e of entries) if (e.isDirectory() && !isHidden(e.name)) out.push(...(await matchSegments(join(base, e.name), segments, format)));
    return out;
  }
  const re = segmentRegex(head);
  for (const e of entries) if (!isHidden(e.name) && re.test(e.name)) out.push(...(await matchSegments(join(base, e.name), rest, format)));
  return out;
}

/**
 * The files behind the input arguments: folders walked, globs expanded (each in path order, a file
 * named twice read once). A folder or glob with no data file is a UsageError (exit 2).
 */
export async function expandInputs(inputs: readonly string[], format: 'auto' | InputFormat): Promise<string[]> {
  const out: string[] = [];
  const seen = new Set<string>();
  const add = (p: string): void => {
    if (!seen.has(p)) {
      seen.add(p);
      out.push(p);
    }
  };
  for (const input of inputs) {
    const dir = await isDir(input);
    let files: string[];
    if (dir === true) files = await walk(input, format);
    else if (dir === null && hasGlob(input)) {
      const absolute = input.startsWith(sep);
      const segments = input.split(/[\\/]+/).filter((s) => s !== '' && s !== '.');
      files = [...new Set(await matchSegments(absolute ? sep : '.', segments, format))].sort(byPath);
      if (!absolute && !input.startsWith('./')) files = files.map((f) => (f.startsWith(`.${sep}`) ? f.slice(2) : f));
    } else {
      add(input);
      continue;
    }
    if (files.length === 0) {
      throw new UsageError(`${input} holds no input files${dir === true ? ' (a folder is read recursively; names starting with _ or . are skipped)' : ' (no path matches the pattern)'}. Expected Parquet, Arrow, CSV, TSV or JSONL files.`);
    }
    for (const f of files) add(f);
  }
  return out;
}

/**
 * Hive partition values in a path: each `key=value` folder (`events/dt=2024-06-01/part-0.parquet`
 * → dt: 2024-06-01), values %-decoded as Hive and Spark escape them. A deeper folder wins over
 * a shallower one of the same key.
 */
export function partitionValues(path: string): Map<string, string> {
  const out = new Map<string, string>();
  const parts = path.split(/[\\/]+/);
  for (let k = 0; k < parts.length - 1; k++) {
    const eq = parts[k].indexOf('=');
    if (eq <= 0) continue;
    const raw = parts[k].slice(eq + 1);
    let value: string;
    try {
      value = decodeURIComponent(raw);
    } catch {
      value = raw;
    }
    out.set(parts[k].slice(0, eq), value);
  }
  return out;
}
