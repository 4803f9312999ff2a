/**
 * Shared parts of the model arms of the catalogue-features benchmark (issue #21; bench/features.ts registers the
 * arms), and the sasrec-beauty arm: SASRec (shipped defaults, ce over every item) on S3-Rec's Amazon Beauty with and
 * without its item attributes, leave-one-out, full ranking of the test item (the published table in
 * ../shared/datasets/s3rec-amazon-beauty/SOURCE.md), and the epoch time of each. The cold-start arms are in
 * bench/features-cold.ts, MF and NeuMF on Beauty in bench/features-beauty.ts.
 *
 * Every arm needs ../shared; an arm whose data is absent reports `skipped` with the reason.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { inflateRawSync } from 'node:zlib';
import { REPO, rec } from './common.js';

export const SHARED = join(REPO, '..', 'shared', 'datasets');

export interface ModelArmContext {
  work: string;
  quick: boolean;
  /** `--datasets A,B`: only the datasets of an arm whose name starts with one of these (the cold arms). */
  datasets?: readonly string[];
  log: (line: string) => void;
}

export interface RankingFigures {
  'hr@10': number;
  'ndcg@10': number;
}

export interface SasrecBeautyVariant {
  features: boolean;
  epochs: number;
  best_epoch: number | null;
  mean_epoch_seconds: number;
  test_full: Record<string, number>;
}

export interface SasrecBeautyResult {
  arm: 'sasrec-beauty';
  command: string;
  variants: SasrecBeautyVariant[] | null;
  skipped?: string;
  published: Record<string, RankingFigures>;
  epoch_seconds_ratio: number | null;
  load_avg_1m: number;
}

export function must(r: { code: number; stderr: string }, what: string): void {
  if (r.code !== 0) throw new Error(`${what} failed (exit ${r.code}): ${r.stderr.slice(-2000)}`);
}

export function metricsOf(stdout: string): Record<string, number> {
  return (JSON.parse(stdout) as { metrics: Record<string, number> }).metrics;
}

export function round(x: number, digits = 4): number {
  const p = 10 ** digits;
  return Math.round(x * p) / p;
}

/** The entry `name` of a zip file (stored or deflated), read without a dependency. */
export function zipEntry(zip: Buffer, name: string): Buffer {
  let at = zip.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
  const entries = zip.readUInt16LE(at + 10);
  at = zip.readUInt32LE(at + 16);
  for (let k = 0; k < entries; k++) {
    const method = zip.readUInt16LE(at + 10);
    const size = zip.readUInt32LE(at + 20);
    const nameLen = zip.readUInt16LE(at + 28);
    const extra = zip.readUInt16LE(at + 30);
    const comment = zip.readUInt16LE(at + 32);
    const local = zip.readUInt32LE(at + 42);
    if (zip.toString('utf8', at + 46, at + 46 + nameLen) === name) {
      const start = local + 30 + zip.readUInt16LE(local + 26) + zip.readUInt16LE(local + 28);
      const body = zip.subarray(start, start + size);
      return method === 0 ? body : inflateRawSync(body);
    }
    at += 46 + nameLen + extra + comment;
  }
  throw new Error(`no ${name} in the zip`);
}

export const BEAUTY_PUBLISHED: Record<string, RankingFigures> = {
  SASRec: { 'hr@10': 0.0605, 'ndcg@10': 0.0318 },
  SASRec_F: { 'hr@10': 0.0458, 'ndcg@10': 0.0232 },
  FDSA: { 'hr@10': 0.0407, 'ndcg@10': 0.0208 },
  'S3-Rec': { 'hr@10': 0.0647, 'ndcg@10': 0.0327 },
};

/** Beauty.txt (`user item item …` per line) as one `user item` row per action, and the attributes as a multi-valued catalogue. */
function beautyFiles(dir: string): { log: string; items: string } {
  const src = join(SHARED, 's3rec-amazon-beauty');
  const rows: string[] = [];
  for (const line of readFileSync(join(src, 'Beauty.txt'), 'utf8').trim().split('\n')) {
    const [user, ...items] = line.trim().split(/\s+/);
    for (const item of items) rows.push(`${user} ${item}`);
  }
  const log = join(dir, 'beauty.txt');
  writeFileSync(log, `${rows.join('\n')}\n`);
  const attributes = JSON.parse(readFileSync(join(src, 'Beauty_item2attributes.json'), 'utf8')) as Record<string, number[]>;
  const items = join(dir, 'beauty-items.jsonl');
  writeFileSync(items, `${Object.entries(attributes).map(([item, a]) => JSON.stringify({ item, attributes: a.map(String) })).join('\n')}\n`);
  return { log, items };
}

/** Beauty prepped once per bench run (leave-last, the attributes as one multi-valued feature), shared by the Beauty arms. */
export async function prepBeauty(ctx: ModelArmContext): Promise<{ dir: string; data: string }> {
  const dir = join(ctx.work, 'beauty');
  const data = join(dir, 'ds');
  if (existsSync(join(data, 'manifest.json'))) return { dir, data };
  await mkdir(dir, { recursive: true });
  const files = beautyFiles(dir);
  must(
    rec(['prep', files.log, '--out', data, '--delimiter', ' ', '--no-header', '--columns', 'user=0,item=1', '--feedback', 'implicit', '--dedupe', 'none', '--split', 'leave-last', '--max-rejects', '0', '--items', files.items, '--item-features', 'attributes:multi', '-q']),
    'rec prep beauty',
  );
  return { dir, data };
}

export async function sasrecBeautyArm(ctx: ModelArmContext): Promise<SasrecBeautyResult> {
  const command = 'rec train --model sasrec [--features none] (shipped defaults: ce over every item, early stopping on valid ndcg@10); rec eval --protocol full --metrics hr,ndcg --k 10,20';
  const base = { arm: 'sasrec-beauty' as const, command, published: BEAUTY_PUBLISHED, load_avg_1m: round(loadavg()[0], 2) };
  if (!existsSync(join(SHARED, 's3rec-amazon-beauty', 'Beauty.txt'))) return { ...base, variants: null, skipped: 'the s3rec-amazon-beauty data is absent', epoch_seconds_ratio: null };
  const { dir, data } = await prepBeauty(ctx);
  const variants: SasrecBeautyVariant[] = [];
  for (const features of [true, false]) {
    const ck = join(dir, features ? 'sasrec-features' : 'sasrec-ids');
    // One thread each (features train on one), so the epoch times compare.
    must(rec(['train', '--data', data, '--model', 'sasrec', '--workers', '1', '--out', ck, '-q', ...(features ? [] : ['--features', 'none']), ...(ctx.quick ? ['--epochs', '1'] : [])]), `rec train sasrec beauty features=${features}`);
    const epochs = readFileSync(join(ck, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { seconds: number });
    const best = JSON.parse(readFileSync(join(ck, 'best.json'), 'utf8')) as { epoch?: number };
    const e = rec(['eval', ck, '--protocol', 'full', '--metrics', 'hr,ndcg', '--k', '10,20', '--json', '-q']);
    must(e, 'rec eval sasrec beauty');
    const test = Object.fromEntries(Object.entries(metricsOf(e.stdout)).map(([k, v]) => [k, round(v)]));
    const variant = { features, epochs: epochs.length, best_epoch: best.epoch ?? null, mean_epoch_seconds: round(epochs.reduce((s, x) => s + x.seconds, 0) / epochs.length, 1), test_full: test };
    ctx.log(`  sasrec-beauty features=${features}: ${variant.epochs} epochs (${variant.mean_epoch_seconds} s each), test hr@10 ${test['hr@10']} ndcg@10 ${test['ndcg@10']}`);
    variants.push(variant);
  }
  return { ...base, variants, epoch_seconds_ratio: round(variants[0].mean_epoch_seconds / variants[1].mean_epoch_seconds, 2) };
}
