/**
 * What a study checks before its first trial: the dataset has a validation split (or one will be
 * carved from train), the metric is one validation measures on this data, and the --budget and
 * --parallel flags parse. Every refusal is a UsageError (exit 2) naming the flag or file.
 */
import { availableParallelism } from 'node:os';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { MANIFEST_FILE } from '../data/manifest.js';
import { describeValue, UsageError } from '../util/errors.js';

export interface StudyData {
  feedback: 'explicit' | 'implicit';
  validRows: number;
}

export async function checkStudyData(dir: string, validFromTrain: number | null): Promise<StudyData> {
  let manifest: { feedback?: { kind?: string }; rows?: { valid?: number } };
  try {
    manifest = JSON.parse(await readFile(join(dir, MANIFEST_FILE), 'utf8')) as typeof manifest;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new UsageError(`--data ${dir} is not a dataset folder (${code === 'ENOENT' ? `no ${MANIFEST_FILE}` : `${MANIFEST_FILE} unreadable: ${code ?? String(error)}`}). Expected a folder written by rec prep; rec tune does not prep raw logs.`);
  }
  const validRows = manifest.rows?.valid ?? 0;
  if (validRows === 0 && validFromTrain === null) {
    throw new UsageError(
      `--data ${dir} has no validation split, and a study chooses on validation only (never on test). Carve one out of train with --valid-from-train 0.1, or prep the dataset with a valid split (--split random:0.8,0.1,0.1 or --valid FILE).`,
    );
  }
  return { feedback: manifest.feedback?.kind === 'implicit' ? 'implicit' : 'explicit', validRows };
}

const RANKING = /^(precision|recall|f1|ndcg|hr|mrr|map)@[1-9]\d*$/;

/** The study's metric: `auto` is rmse on ratings and ndcg@10 on implicit feedback, as training monitors. */
export function resolveMetric(requested: string, data: StudyData): string {
  const metric = requested === 'auto' ? (data.feedback === 'explicit' ? 'rmse' : 'ndcg@10') : requested;
  if (metric === 'rmse' || metric === 'mae') {
    if (data.feedback === 'implicit') throw new UsageError(`--metric ${metric} measures ratings, but the dataset holds implicit feedback. Expected a ranking metric such as ndcg@10 or hr@10.`);
    return metric;
  }
  if (!RANKING.test(metric)) throw new UsageError(`--metric ${describeValue(requested)} is not a validation metric. Expected rmse or mae (ratings), or NAME@K with NAME one of precision, recall, f1, ndcg, hr, mrr, map (e.g. ndcg@10).`);
  return metric;
}

/** `--budget`: 90s, 20m, 1.5h, 1h30m or plain seconds. */
export function parseDuration(text: string): number {
  const parts = [...text.trim().matchAll(/(\d+(?:\.\d+)?)\s*([smh]?)/g)];
  const joined = parts.map((m) => m[0]).join('');
  if (parts.length === 0 || joined.replace(/\s/g, '') !== text.replace(/\s/g, '')) {
    throw new UsageError(`--budget ${describeValue(text)} is not a duration. Expected e.g. 90s, 20m, 1.5h or 1h30m.`);
  }
  const seconds = parts.reduce((s, m) => s + Number(m[1]) * (m[2] === 'h' ? 3600 : m[2] === 'm' ? 60 : 1), 0);
  if (!(seconds > 0)) throw new UsageError(`--budget ${describeValue(text)} is no time at all. Expected a positive duration such as 20m.`);
  return seconds;
}

/** `--parallel N|auto` and each trial's workers: the cores shared evenly, at least one each. */
export function parallelPlan(text: string, trials: number, cores = availableParallelism()): { parallel: number; workers: number } {
  let parallel: number;
  if (text === 'auto') parallel = Math.max(1, Math.min(trials, cores));
  else if (/^[1-9]\d*$/.test(text)) parallel = Math.min(Number(text), trials);
  else throw new UsageError(`--parallel ${describeValue(text)} is not a number of trials. Expected a positive integer or auto (one trial per core).`);
  return { parallel, workers: Math.max(1, Math.floor(cores / parallel)) };
}
