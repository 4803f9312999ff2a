/**
 * The `ncf-beauty` arm of the catalogue-features benchmark (issue #21 asks "also MF and NeuMF with and without
 * features" on Amazon Beauty; bench/features.ts registers it): MF and NeuMF with their shipped configs
 * (configs/models/mf.yaml, neumf.yaml: bce, 4 sampled negatives, early stopping on valid ndcg@10) on S3-Rec's
 * Beauty (prepped as the sasrec-beauty arm does: leave-one-out, the attributes as one multi-valued feature), each
 * with its item attributes and without (`--features none`), `--workers 1` so that epoch times compare; the test item
 * of every user ranked over all items (`rec eval --protocol full --metrics hr,ndcg --k 10,20`).
 *
 * NeuMF's epochs are capped (NCF_BEAUTY_EPOCHS) to fit a session on a shared 2-core machine: its validation ranks
 * every item through the MLP tower for thousands of users each epoch. The result says how many epochs ran.
 */
import { existsSync, readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { rec } from './common.js';
import { BEAUTY_PUBLISHED, metricsOf, must, prepBeauty, round, SHARED, type ModelArmContext, type RankingFigures } from './features-models.js';

/** Epochs asked per model: MF its shipped 20; NeuMF 10 of its shipped 20 (time, see above). null: the shipped number. */
export const NCF_BEAUTY_EPOCHS: Record<'mf' | 'neumf', number | null> = { mf: null, neumf: 10 };

export interface NcfBeautyVariant {
  model: 'mf' | 'neumf';
  features: boolean;
  /** --epochs given (null: the shipped config's). */
  epochs_asked: number | null;
  epochs: number;
  best_epoch: number | null;
  mean_epoch_seconds: number;
  mean_valid_seconds: number;
  test_full: Record<string, number>;
  /** Test users ranked (those whose test item the model can score). */
  users: number | null;
}

export interface NcfBeautyResult {
  arm: 'ncf-beauty';
  command: string;
  variants: NcfBeautyVariant[] | null;
  skipped?: string;
  published: Record<string, RankingFigures>;
  /** Per model: mean epoch seconds with features / without. */
  epoch_seconds_ratio: Record<string, number> | null;
  load_avg_1m: number;
}

function variant(ctx: ModelArmContext, dir: string, data: string, model: 'mf' | 'neumf', features: boolean): NcfBeautyVariant {
  const ck = join(dir, `${model}-${features ? 'features' : 'ids'}`);
  const asked = ctx.quick ? 1 : NCF_BEAUTY_EPOCHS[model];
  const args = ['train', '--data', data, '--model', model, '--workers', '1', '--out', ck, '-q', ...(features ? [] : ['--features', 'none']), ...(asked === null ? [] : ['--epochs', String(asked)])];
  must(rec(args), `rec train ${model} beauty features=${features}`);
  const epochs = readFileSync(join(ck, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { seconds: number; valid_seconds?: number });
  const best = JSON.parse(readFileSync(join(ck, 'best.json'), 'utf8')) as { epoch?: number };
  const e = rec(['eval', ck, '--protocol', 'full', '--metrics', 'hr,ndcg', '--k', '10,20', '--json', '-q']);
  must(e, `rec eval ${model} beauty`);
  const doc = JSON.parse(e.stdout) as { users?: { evaluated?: number } };
  const test = Object.fromEntries(Object.entries(metricsOf(e.stdout)).map(([k, v]) => [k, round(v)]));
  const mean = (f: (x: { seconds: number; valid_seconds?: number }) => number) => round(epochs.reduce((s, x) => s + f(x), 0) / epochs.length, 1);
  const v: NcfBeautyVariant = {
    model,
    features,
    epochs_asked: asked,
    epochs: epochs.length,
    best_epoch: best.epoch ?? null,
    mean_epoch_seconds: mean((x) => x.seconds),
    mean_valid_seconds: mean((x) => x.valid_seconds ?? 0),
    test_full: test,
    users: doc.users?.evaluated ?? null,
  };
  ctx.log(`  ncf-beauty ${model} features=${features}: ${v.epochs} epochs (${v.mean_epoch_seconds} s each), test hr@10 ${test['hr@10']} ndcg@10 ${test['ndcg@10']} (load ${round(loadavg()[0], 2)})`);
  return v;
}

export async function ncfBeautyArm(ctx: ModelArmContext): Promise<NcfBeautyResult> {
  const command = `rec train --model mf|neumf --workers 1 [--features none] [--epochs ${NCF_BEAUTY_EPOCHS.neumf} for neumf] (shipped configs otherwise); rec eval --protocol full --metrics hr,ndcg --k 10,20`;
  const base = { arm: 'ncf-beauty' as const, command, published: BEAUTY_PUBLISHED, load_avg_1m: round(loadavg()[0], 2) };
  if (!existsSync(join(SHARED, 's3rec-amazon-beauty', 'Beauty.txt'))) return { ...base, variants: null, skipped: 'the s3rec-amazon-beauty data is absent', epoch_seconds_ratio: null };
  const { dir, data } = await prepBeauty(ctx);
  const variants: NcfBeautyVariant[] = [];
  for (const model of ['mf', 'neumf'] as const) for (const features of [true, false]) variants.push(variant(ctx, dir, data, model, features));
  const ratio: Record<string, number> = {};
  for (const model of ['mf', 'neumf']) {
    const [f, i] = [true, false].map((x) => variants.find((v) => v.model === model && v.features === x));
    if (f && i) ratio[model] = round(f.mean_epoch_seconds / i.mean_epoch_seconds, 2);
  }
  return { ...base, variants, epoch_seconds_ratio: ratio };
}
