/**
 * `rec synth --format parquet`: the same rows as the CSV log (same seed, same generator), written
 * as a warehouse export partitioned by day: `OUT/dt=YYYY-MM-DD/part-0.parquet` (snappy), columns
 * user_id, item_id, category, event (strings), ts (timestamp ms, UTC), rating (int32, with --explicit).
 * Rows are generated user by user, so each day keeps an open file and a buffer of at most
 * ROW_GROUP rows, flushed as a row group: memory is days × one row group, whatever the size.
 * The folder is staged beside OUT and renamed into place complete.
 */
import { mkdir, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { ParquetWriter, fileWriter } from 'hyparquet-writer';
import { pathExists, removeStaleTemps, tempNameBeside } from '../io/atomic.js';
import { interruptedError, UsageError } from '../util/errors.js';
import type { ProgressBar } from '../util/progress.js';
import { categoryName, EVENT_TYPES, type UserRows, type World } from './synth/world.js';

const ROW_GROUP = 1 << 16;
const DAY_S = 86_400;

type SchemaElement = ConstructorParameters<typeof ParquetWriter>[0]['schema'][number];

function schema(explicit: boolean): SchemaElement[] {
  const text = (name: string): SchemaElement => ({ name, type: 'BYTE_ARRAY', converted_type: 'UTF8', logical_type: { type: 'STRING' }, repetition_type: 'REQUIRED' });
  const cols: SchemaElement[] = [
    text('user_id'),
    text('item_id'),
    text('category'),
    text('event'),
    { name: 'ts', type: 'INT64', converted_type: 'TIMESTAMP_MILLIS', logical_type: { type: 'TIMESTAMP', isAdjustedToUTC: true, unit: 'MILLIS' }, repetition_type: 'REQUIRED' },
  ];
  if (explicit) cols.push({ name: 'rating', type: 'INT32', repetition_type: 'REQUIRED' });
  return [{ name: 'root', num_children: cols.length }, ...cols];
}

/** One day's open file and its rows not yet written. */
class DayFile {
  private readonly writer: ParquetWriter;
  private readonly fw: ReturnType<typeof fileWriter>;
  user: string[] = [];
  item: string[] = [];
  category: string[] = [];
  event: string[] = [];
  ts: number[] = [];
  rating: number[] = [];

  constructor(path: string, explicit: boolean) {
    this.fw = fileWriter(path);
    this.writer = new ParquetWriter({ writer: this.fw, schema: schema(explicit), codec: 'SNAPPY', createdBy: 'rec synth' });
  }

  async flush(explicit: boolean): Promise<void> {
    if (this.user.length === 0) return;
    const columnData = [
      { name: 'user_id', data: this.user },
      { name: 'item_id', data: this.item },
      { name: 'category', data: this.category },
      { name: 'event', data: this.event },
      { name: 'ts', data: this.ts },
      ...(explicit ? [{ name: 'rating', data: this.rating }] : []),
    ];
    await this.writer.write({ columnData, rowGroupSize: this.user.length });
    this.user = [];
    this.item = [];
    this.category = [];
    this.event = [];
    this.ts = [];
    this.rating = [];
  }

  async finish(explicit: boolean): Promise<void> {
    await this.flush(explicit);
    await this.writer.finish();
  }
}

export interface SynthParquetJob {
  out: string;
  force: boolean;
  world: World;
  users: number;
  days: number;
  startTs: number;
  explicit: boolean;
  budgets: Float64Array;
  nextUser: (budget: number) => UserRows;
  /** Counted while writing: rows per event type, items seen, rows, users with rows. */
  tally: { counts: Float64Array; itemSeen: Uint8Array; rows: number; usersWithRows: number };
  bar: ProgressBar;
  signal: AbortSignal | undefined;
}

/** Refuses an existing OUT (exit 2) unless --force. */
export async function checkSynthFolder(out: string, force: boolean): Promise<void> {
  if (!force && (await pathExists(out))) throw new UsageError(`--out ${out} already exists. Expected a new folder for the partitioned Parquet log, or --force to replace it.`);
}

/** Writes the partitioned log into a staged folder, then renames it to `out`. */
export async function writeSynthParquet(job: SynthParquetJob): Promise<void> {
  const { out, world, explicit, tally, bar, signal } = job;
  await removeStaleTemps(dirname(out), basename(out));
  const staged = tempNameBeside(out);
  const days = new Map<number, DayFile>();
  const itemIds = Array.from({ length: world.spec.items }, (_, j) => `i${world.itemExternal[j] + 1}`);
  const cats = Array.from({ length: world.spec.items }, (_, j) => categoryName(world.itemCategory[j]));
  try {
    await mkdir(staged, { recursive: true });
    for (let u = 0; u < job.users; u++) {
      if (signal?.aborted) throw interruptedError(signal, 'rec synth was interrupted; no --out folder was written.');
      const budget = job.budgets[u];
      if (budget === 0) continue;
      const rows = job.nextUser(budget);
      tally.usersWithRows++;
      const user = `u${u + 1}`;
      for (let j = 0; j < rows.count; j++) {
        const day = Math.floor((rows.ts[j] - job.startTs) / DAY_S);
        let f = days.get(day);
        if (f === undefined) {
          const dt = new Date((job.startTs + day * DAY_S) * 1000).toISOString().slice(0, 10);
          await mkdir(join(staged, `dt=${dt}`), { recursive: true });
          f = new DayFile(join(staged, `dt=${dt}`, 'part-0.parquet'), explicit);
          days.set(day, f);
        }
        const item = rows.item[j];
        const e = rows.event[j];
        tally.itemSeen[item] = 1;
        tally.counts[e]++;
        f.user.push(user);
        f.item.push(itemIds[item]);
        f.category.push(cats[item]);
        f.event.push(EVENT_TYPES[e]);
        f.ts.push(rows.ts[j] * 1000);
        if (explicit) f.rating.push(rows.rating[j]);
        if (f.user.length >= ROW_GROUP) await f.flush(explicit);
      }
      tally.rows += rows.count;
      if ((u & 1023) === 0) bar.update(tally.rows);
    }
    for (const f of days.values()) await f.finish(explicit);
    bar.update(tally.rows);
    bar.stop();
    if (job.force) await rm(out, { recursive: true, force: true });
    await rename(staged, out);
  } catch (error) {
    bar.stop();
    await rm(staged, { recursive: true, force: true });
    throw error;
  }
}
