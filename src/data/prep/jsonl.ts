/**
 * JSON Lines → rows: one JSON object (fields by key) or array (fields by 0-based position) per
 * line. A line that is not valid JSON, or not an object or array, is rejected as `bad_json`.
 */
import { DataError, UsageError, describeValue } from '../../util/errors.js';
import { emptyPlan, resolvePlan, type ColumnPlan } from './columns.js';
import type { Ingest } from './ingest.js';
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
    const nl = text.lastIndexOf('\n');
    text = nl >= 0 ? text.slice(0, nl) : text;
  }
  let sawLine = false;
  for (const line of text.split('\n')) {
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
  const plan: JsonPlan = { user: null, item: null, rating: null, event: null, ts: null };
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

export class JsonlReader {
  private readonly ingest: Ingest;
  private readonly plan: JsonPlan;
  private readonly fields: string[] = ['', '', '', '', ''];
  private carry: Buffer | null = null;
  private first = true;
  line = 0;
  dataRows = 0;

  constructor(plan: JsonPlan, ingest: Ingest) {
    this.plan = plan;
    this.ingest = ingest;
  }

  push(chunk: Buffer): void {
    this.run(chunk, false);
  }

  finish(): void {
    this.run(Buffer.alloc(0), true);
  }

  private run(chunk: Buffer, final: boolean): void {
    let data = this.carry ? Buffer.concat([this.carry, chunk]) : chunk;
    if (this.first && (data.length >= 3 || final)) {
      this.first = false;
      if (data[0] === 0xef && data[1] === 0xbb && data[2] === 0xbf) data = data.subarray(3);
    }
    const n = data.length;
    let pos = 0;
    while (pos < n) {
      const nl = data.indexOf(10, pos);
      if (nl === -1 && !final) break;
      const lineEnd = nl === -1 ? n : nl;
      const next = nl === -1 ? n : nl + 1;
      const text = data.toString('utf8', pos, lineEnd).trim();
      pos = next;
      this.line++;
      if (text === '') continue;
      this.dataRows++;
      this.row(text);
    }
    this.carry = pos < n ? Buffer.from(data.subarray(pos)) : null;
  }

  private row(text: string): void {
    let v: unknown;
    try {
      v = JSON.parse(text);
    } catch (error) {
      this.ingest.rejectUnparsed(this.line, 'bad_json', (error as Error).message, text);
      return;
    }
    if (v === null || typeof v !== 'object') {
      this.ingest.rejectUnparsed(this.line, 'bad_json', 'not a JSON object or array', text);
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
      f[i] = toField(raw);
    }
    this.ingest.acceptStrings(f, f.length, this.line, text, false);
  }
}
