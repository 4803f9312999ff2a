/**
 * JSON Lines → rows: one JSON object (fields by key) or array (fields by 0-based position) per
 * physical line (lines.ts: LF, CRLF or CR; JSON text never holds a raw newline). A line that is
 * not valid JSON, or not an object or array, is rejected as `bad_json`; lines of only spaces and
 * tabs are skipped.
 *
 * Ids must survive byte-exact: a line that is not UTF-8 is rejected (`invalid_utf8`), as is an id
 * string with a lone surrogate escape (`"\ud800"`, which has no UTF-8 form and would be written
 * as U+FFFD); a number id must be an integer within ±(2^53 − 1), since JSON.parse rounds larger
 * ones (`unsafe_integer_id`) and fractions are not ids (`bad_id`).
 */
import { isUtf8 } from 'node:buffer';
import { DataError, UsageError, describeValue } from '../../util/errors.js';
import { emptyPlan, resolvePlan, type ColumnPlan } from './columns.js';
import type { Ingest } from './ingest.js';
import { LineSplitter, MAX_LINE_BYTES, utf8Detail, type LineHandler } from '../../util/lines.js';
import { COLUMN_ROLES, type ColumnRole, type ColumnsSpec } from './options.js';

/** Per role: the object key or array index to read; null when the role is not mapped. */
export type JsonPlan = Record<ColumnRole, string | number | null>;

/** The fixed plan used with Ingest.acceptStrings: fields are laid out in COLUMN_ROLES order. */
export function jsonFieldPlan(plan: JsonPlan): ColumnPlan {
  const out = emptyPlan();
  COLUMN_ROLES.forEach((role, i) => {
    if (plan[role] !== null) out[role] = i;
  });
  return out;
}

function firstValue(head: string, final: boolean): unknown {
  let text = head.charCodeAt(0) === 0xfeff ? head.slice(1) : head;
  if (!final) {
    const cut = Math.max(text.lastIndexOf('\n'), text.lastIndexOf('\r'));
    text = cut >= 0 ? text.slice(0, cut) : text;
  }
  let sawLine = false;
  for (const line of text.split(/\r\n|\r|\n/)) {
    const l = line.trim();
    if (l === '') continue;
    sawLine = true;
    try {
      const v: unknown = JSON.parse(l);
      if (v !== null && typeof v === 'object') return v;
    } catch {
      // a malformed line is rejected later; keep looking for one to learn the keys from
    }
  }
  return sawLine ? null : undefined;
}

export function analyzeJsonHead(head: string, final: boolean, spec: ColumnsSpec | null, file: string): JsonPlan {
  const v = firstValue(head, final);
  if (v === undefined) throw new DataError(`${file} is empty: no rows to read.`);
  if (v === null) throw new DataError(`${file}: none of the first lines is a JSON object or array. Expected JSON Lines (one object per line).`);
  const plan: JsonPlan = { user: null, item: null, rating: null, event: null, ts: null, query: null };
  if (Array.isArray(v)) {
    const p = resolvePlan(spec, null, v.length, file);
    for (const role of COLUMN_ROLES) plan[role] = p[role] >= 0 ? p[role] : null;
    return plan;
  }
  const keys = Object.keys(v as Record<string, unknown>);
  if (spec === null) {
    const p = resolvePlan(null, keys, keys.length, file);
    for (const role of COLUMN_ROLES) plan[role] = p[role] >= 0 ? keys[p[role]] : null;
    if (plan.user === null || plan.item === null || !keys.includes(String(plan.user))) {
      throw new UsageError(`${file}: cannot tell the user and item keys from ${describeValue(keys.join(','), 120)}. Expected --columns user=KEY,item=KEY (config prep.columns).`);
    }
    return plan;
  }
  for (const role of COLUMN_ROLES) {
    const ref = spec[role];
    if (!ref) continue;
    if (ref.kind === 'index') {
      throw new UsageError(`--columns (config prep.columns) maps ${role} to index ${ref.index}, but ${file} holds JSON objects. Expected key names, e.g. user=user_id,item=item_id.`);
    }
    plan[role] = ref.name;
  }
  return plan;
}

function toField(v: unknown): string {
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return '';
}

const LONE_SURROGATE = /\p{Cs}/u;
const ID_ROLES = [COLUMN_ROLES.indexOf('user'), COLUMN_ROLES.indexOf('item')];

/** True for a line of JSON whitespace only (space, tab; a line holds no CR or LF). */
function isBlank(buf: Buffer, s: number, e: number): boolean {
  for (let i = s; i < e; i++) if (buf[i] !== 32 && buf[i] !== 9) return false;
  return true;
}

export class JsonlReader implements LineHandler {
  private readonly ingest: Ingest;
  private readonly plan: JsonPlan;
  private readonly lines: LineSplitter;
  private readonly fields: string[] = COLUMN_ROLES.map(() => '');
  dataRows = 0;

  constructor(plan: JsonPlan, ingest: Ingest) {
    this.plan = plan;
    this.ingest = ingest;
    this.lines = new LineSplitter(this);
  }

  /** Physical lines read so far. */
  get line(): number {
    return this.lines.line;
  }

  push(chunk: Buffer): void {
    this.lines.push(chunk);
  }

  finish(): void {
    this.lines.finish();
  }

  onLine(buf: Buffer, s: number, e: number, lineNo: number, utf8: boolean): void {
    if (isBlank(buf, s, e)) return;
    this.dataRows++;
    const text = buf.toString('utf8', s, e);
    if (!utf8 && !isUtf8(buf.subarray(s, e))) {
      this.ingest.rejectUnparsed(lineNo, 'invalid_utf8', utf8Detail(buf, s, e), text);
      return;
    }
    this.row(text, lineNo);
  }

  onLongLine(lineNo: number, head: Buffer, bytes: number): void {
    this.dataRows++;
    this.ingest.rejectUnparsed(lineNo, 'line_too_long', `line of ${bytes}+ bytes, over the ${MAX_LINE_BYTES}-byte limit`, head.toString('utf8'));
  }

  private row(text: string, lineNo: number): void {
    let v: unknown;
    try {
      v = JSON.parse(text);
    } catch (error) {
      this.ingest.rejectUnparsed(lineNo, 'bad_json', (error as Error).message, text);
      return;
    }
    if (v === null || typeof v !== 'object') {
      this.ingest.rejectUnparsed(lineNo, 'bad_json', 'not a JSON object or array', text);
      return;
    }
    const isArray = Array.isArray(v);
    const f = this.fields;
    for (let i = 0; i < COLUMN_ROLES.length; i++) {
      const key = this.plan[COLUMN_ROLES[i]];
      if (key === null) {
        f[i] = '';
        continue;
      }
      const raw = isArray ? (typeof key === 'number' ? (v as unknown[])[key] : undefined) : (v as Record<string, unknown>)[String(key)];
      if (typeof raw === 'string' ? LONE_SURROGATE.test(raw) : i === ID_ROLES[0] || i === ID_ROLES[1]) {
        const problem = fieldProblem(COLUMN_ROLES[i], raw);
        if (problem !== null) {
          this.ingest.rejectUnparsed(lineNo, problem[0], problem[1], text);
          return;
        }
      }
      f[i] = toField(raw);
    }
    this.ingest.acceptStrings(f, f.length, lineNo, text, false);
  }
}

/** Why a JSON value cannot be kept byte-exact (ids: as an id); null when it can. */
function fieldProblem(role: string, v: unknown): ['unsafe_integer_id' | 'bad_id' | 'invalid_utf8', string] | null {
  if (typeof v === 'number') {
    const negZero = Object.is(v, -0);
    if (Number.isSafeInteger(v) && !negZero) return null;
    if (Number.isInteger(v) && !negZero) {
      return ['unsafe_integer_id', `${role} id ${String(v)} is a JSON number beyond ±(2^53 − 1), so its digits may have been rounded; write it as a JSON string`];
    }
    return ['bad_id', `${role} id ${negZero ? '-0' : String(v)} is a JSON number that is not a plain integer; expected a string or an integer`];
  }
  if (typeof v === 'string' && LONE_SURROGATE.test(v)) {
    return ['invalid_utf8', `${role} holds a lone UTF-16 surrogate escape, which has no UTF-8 form; expected valid Unicode text`];
  }
  return null;
}
