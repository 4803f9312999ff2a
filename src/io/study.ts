/**
 * A study's files (rec tune; docs/tuning.md#the-study-folder): `trials.jsonl`, one line per event of a
 * trial (it starts: `running`; it ends: `completed`, `pruned` or `failed`), the last line of a
 * trial being its state; `study.json`, the study's settings and outcome. Each line is appended by
 * one write and a line torn by a kill is dropped on reading (its trial is then still running, and
 * `--resume` finishes it); on resume the file is rewritten whole, atomically, one line per trial.
 */
import { appendFile, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from './atomic.js';
import { DataError } from '../util/errors.js';

/** A trial's parameters: dotted config key → value. */
export type Params = Record<string, string | number | boolean>;

/** A searched parameter as study.json records it (src/tune/space.ts parses them). */
export interface SpaceParam {
  key: string;
  line: number;
  kind: 'uniform' | 'log_uniform' | 'int' | 'choice';
  low?: number;
  high?: number;
  log?: boolean;
  values?: (string | number | boolean)[];
}

export const TRIAL_STATUSES = ['completed', 'pruned', 'failed', 'running'] as const;
export type TrialStatus = (typeof TRIAL_STATUSES)[number];

export interface TrialRecord {
  trial: number;
  params: Params;
  status: TrialStatus;
  /** The trial's best validation value of the study's metric (null when none was measured). */
  value: number | null;
  /** How many epochs the trial ran (the length of `metric_by_epoch`). */
  epochs: number;
  /** The validation value of the study's metric at each epoch the trial ran (null where none was measured). */
  metric_by_epoch: (number | null)[];
  /** The epoch of `value` (1-based; null when none). */
  best_epoch: number | null;
  /** Wall seconds of the trial (its training and validation; summed over resumes). */
  seconds: number;
  /** The trial's checkpoint folder, relative to the study. */
  checkpoint: string;
  /** Failed: the trial's error. */
  message?: string;
  /** Pruned: the rule and the numbers that stopped it. */
  reason?: string;
  /** Set when the study's --budget ran out during the trial, which stopped after that epoch. */
  stopped?: 'budget';
  /** ISO time of this line. */
  at: string;
}

export const studyPaths = (dir: string) => ({
  trials: join(dir, 'trials.jsonl'),
  study: join(dir, 'study.json'),
  best: join(dir, 'best.yaml'),
  trialDir: (n: number) => join(dir, 'trials', trialName(n)),
  trialConfig: (n: number) => join(dir, 'trials', `${trialName(n)}.yaml`),
  trialLog: (n: number) => join(dir, 'trials', `${trialName(n)}.log`),
});

export const trialName = (n: number): string => String(n).padStart(3, '0');

export async function appendTrial(dir: string, record: TrialRecord): Promise<void> {
  await appendFile(studyPaths(dir).trials, `${JSON.stringify(record)}\n`);
}

/** Each trial's last complete line, by trial number; a torn last line (a kill mid-write) is dropped. */
export async function readTrials(dir: string): Promise<Map<number, TrialRecord>> {
  const path = studyPaths(dir).trials;
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return new Map();
    throw error;
  }
  const lines = text.split('\n');
  // Without a final newline the last line is a write a kill cut short.
  if (!text.endsWith('\n')) lines.pop();
  const out = new Map<number, TrialRecord>();
  lines.forEach((line, i) => {
    if (line.trim() === '') return;
    let record: TrialRecord;
    try {
      record = JSON.parse(line) as TrialRecord;
    } catch {
      throw new DataError(`${path}:${i + 1} is not JSON. Expected one trial record per line; fix or remove the line, then --resume.`);
    }
    if (!Number.isInteger(record.trial) || !(TRIAL_STATUSES as readonly string[]).includes(record.status)) {
      throw new DataError(`${path}:${i + 1} is not a trial record (needs an integer "trial" and a "status" of ${TRIAL_STATUSES.join('|')}).`);
    }
    out.set(record.trial, upgradeTrial(record));
  });
  return out;
}

/**
 * Studies written before the record had `metric_by_epoch` kept the curve under `epochs`; read as
 * today's record so they still resume, sort and report.
 */
function upgradeTrial(record: TrialRecord): TrialRecord {
  const legacy = record as Omit<TrialRecord, 'epochs'> & { epochs: unknown };
  if (Array.isArray(legacy.epochs) && !Array.isArray(legacy.metric_by_epoch)) {
    const curve = legacy.epochs as (number | null)[];
    return { ...record, epochs: curve.length, metric_by_epoch: curve };
  }
  return record;
}

/** Rewrites trials.jsonl with one line per trial, in trial order (atomically: temp file, then rename). */
export async function compactTrials(dir: string, records: Map<number, TrialRecord>): Promise<void> {
  const lines = [...records.values()].sort((a, b) => a.trial - b.trial).map((r) => `${JSON.stringify(r)}\n`);
  await writeFileAtomic(studyPaths(dir).trials, lines.join(''));
}

export const isFinal = (r: TrialRecord | undefined): boolean => r !== undefined && r.status !== 'running';

export interface TestRecord {
  trial: number;
  checkpoint: string;
  split: 'test';
  metrics: Record<string, number>;
  file: string;
  /** How many times this study has looked at the test split (1 unless trials were added after a first end). */
  evaluations: number;
  /** True when the model evaluated is the best trial's config retrained on all of train (--refit), not the trial's own checkpoint. */
  refit: boolean;
  note: string;
}

export interface RefitRecord {
  trial: number;
  /** Epochs trained: the best trial's best epoch. */
  epochs: number;
  /** Folder and config, relative to the study. */
  checkpoint: string;
  config: string;
  /** Wall seconds of the refit's training. */
  seconds: number;
}

export interface StudyJson {
  format_version: 1;
  data: string;
  model: string;
  metric: string;
  higher_is_better: boolean;
  sampler: 'tpe' | 'random';
  pruner: 'median' | 'asha' | 'none';
  seed: number;
  trials: number;
  parallel: number;
  budget_seconds: number | null;
  valid_from_train: number | null;
  /** The space file and its parameters as parsed (src/tune/space.ts): key, kind, bounds or values, line. */
  space: { file: string; params: SpaceParam[] };
  /** Config keys every trial shares (the user's --config files and flags). */
  base: Record<string, unknown>;
  status: 'running' | 'completed' | 'interrupted' | 'failed';
  started: string;
  finished: string | null;
  counts: Record<'completed' | 'pruned' | 'failed' | 'running', number>;
  best: { trial: number; value: number; epoch: number | null; params: Params; checkpoint: string; config: string } | null;
  test: TestRecord | null;
  /** --refit: the best trial's config trained again on all of train (the carved validation returned), for its best epoch count. */
  refit: RefitRecord | null;
  /** This invocation's wall seconds (a resumed study counts from its resume). */
  wall_seconds: number;
  /** Finished trials per hour of this invocation. */
  trials_per_hour: number;
  stopped_by_budget: boolean;
  honesty: string;
}

/** study.json, or null when `dir` holds no study. */
export async function readStudyJson(dir: string): Promise<StudyJson | null> {
  let text: string;
  try {
    text = await readFile(studyPaths(dir).study, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
  try {
    return JSON.parse(text) as StudyJson;
  } catch {
    throw new DataError(`${studyPaths(dir).study} is not JSON. Expected the study record rec tune writes.`);
  }
}
