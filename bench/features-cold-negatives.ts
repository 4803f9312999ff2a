/**
 * Negatives by time on sale (`rec train --negative-sampling on_sale`, issue #21, session 13): the cold-start
 * datasets of bench/features-cold.ts (synth by time, Amazon 2018 Gift Cards and Magazine Subscriptions at
 * 0.5/0.25/0.25, MovieLens latest-small by time), the nightly pipeline run once per way of drawing MF's bce
 * negatives: the first model (train only, with features), the nightly scratch model (train + valid, for the first
 * model's best epoch count) and the first model fine-tuned on the valid rows with replay (examples/nightly.sh's
 * flags). Each is measured on the first dataset's test period: new items by kind (`rec eval --protocol
 * candidates:NEW_ITEMS --items cold|new|recent`, the candidates every item without a training row), and the warm
 * items and every item (`--protocol full --items warm|all`), beside random and popularity references that do not depend on the model.
 *
 *   node dist/bench/features.js --arms cold-negatives [--datasets synth,amazon,ml]
 */
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { loadDataset } from '../src/data/dataset.js';
import { type ColdFigures, type ColdKind } from './cold-references.js';
import {
  amazonName,
  amazonSetup,
  coldCandidates,
  type ColdSetup,
  evalKind,
  evalRun,
  FINE_TUNE,
  FINE_TUNE_EPOCHS,
  movielensTemporalSetup,
  pathSafe,
  synthSetup,
  trainMf,
} from './features-cold.js';
import { round, type ModelArmContext } from './features-models.js';

export const SAMPLINGS = ['uniform', 'on_sale', 'mixed'] as const;
export type Sampling = (typeof SAMPLINGS)[number];

/** One trained model: new items by kind among every item without a training row, and warm items in full ranking. */
export interface NegativesModel {
  epochs: number;
  train_seconds: number;
  cold: ColdFigures;
  new: ColdFigures;
  recent: ColdFigures;
  /** `rec eval --data FIRST --split test --protocol full --items warm`: items with a row in the first dataset's train. */
  warm: ColdFigures;
  /** The same with `--items all`: every test item, warm and new, against every item (what a user of the model sees). */
  all: ColdFigures;
}

export interface NegativesDatasetResult {
  dataset: string;
  split: string;
  /** Users ranked per kind (test users with a training row and a new test item of that kind), and the kind's items. */
  users: Record<ColdKind, number>;
  items: Record<ColdKind, number>;
  references: Record<ColdKind, { random: ColdFigures; valid_popularity: ColdFigures; oracle_test_popularity: ColdFigures }>;
  runs: Partial<Record<Sampling, { first: NegativesModel & { best_epoch: number | null }; nightly_scratch: NegativesModel; nightly_fine_tune: NegativesModel }>>;
  load_avg_1m: number;
}

export interface NegativesArmResult {
  arm: 'cold-negatives';
  command: string;
  datasets: (NegativesDatasetResult | { dataset: string; skipped: string })[];
}

function measure(ck: string, first: string, cands: string, users: Record<ColdKind, number>, epochs: number, seconds: number): NegativesModel {
  const at = (kind: ColdKind) => evalKind(ck, cands, kind, first, users[kind]).figures;
  const full = (items: string) => evalRun(ck, ['--data', first, '--split', 'test', '--protocol', 'full', '--items', items]).figures;
  return { epochs, train_seconds: seconds, cold: at('cold'), new: at('new'), recent: at('recent'), warm: full('warm'), all: full('all') };
}

async function pipeline(ctx: ModelArmContext, setup: ColdSetup, nightlyData: string, cands: string, users: Record<ColdKind, number>, sampling: Sampling): Promise<NonNullable<NegativesDatasetResult['runs'][Sampling]>> {
  const flag = ['--negative-sampling', sampling];
  const base = join(ctx.work, `${pathSafe(setup.dataset)}-${sampling}`);
  const epochs = ctx.quick ? 2 : setup.epochs;
  const a = trainMf(setup.data, `${base}-mf`, epochs, flag, `${setup.dataset} (${sampling})`);
  const first = { ...measure(`${base}-mf`, setup.data, cands, users, epochs, a.seconds), best_epoch: a.best };
  const n = a.best ?? epochs;
  const s = trainMf(nightlyData, `${base}-nightly`, n, flag, `${setup.dataset} train+valid (${sampling})`);
  const scratch = measure(`${base}-nightly`, setup.data, cands, users, n, s.seconds);
  const ftEpochs = ctx.quick ? 2 : FINE_TUNE_EPOCHS;
  const f = trainMf(nightlyData, `${base}-fine-tune`, ftEpochs, [...flag, '--init-from', `${base}-mf`, ...FINE_TUNE], `${setup.dataset} fine-tuned (${sampling})`);
  const fineTune = measure(`${base}-fine-tune`, setup.data, cands, users, ftEpochs, f.seconds);
  const fig = (m: NegativesModel) => `cold ${m.cold['recall@20']}/${m.cold['ndcg@20']}, new ${m.new['recall@20']}/${m.new['ndcg@20']}, recent ${m.recent['recall@20']}/${m.recent['ndcg@20']}, warm ${m.warm['recall@20']}/${m.warm['ndcg@20']}, all ${m.all['recall@20']}/${m.all['ndcg@20']}`;
  ctx.log(`  ${setup.dataset} ${sampling} (recall@20/ndcg@20): first ${fig(first)}; scratch ${fig(scratch)}; fine-tuned ${fig(fineTune)}`);
  return { first, nightly_scratch: scratch, nightly_fine_tune: fineTune };
}

async function negativesDataset(ctx: ModelArmContext, setup: ColdSetup, samplings: readonly Sampling[]): Promise<NegativesDatasetResult> {
  if (setup.nightly === undefined) throw new Error(`${setup.dataset}: no period after training to bring a nightly model up to`);
  const cands = join(ctx.work, `${pathSafe(setup.dataset)}-new-items.tsv`);
  const c = await coldCandidates(setup.data, cands);
  const load = loadavg()[0];
  const nightlyData = await setup.nightly.prep();
  const merged = await loadDataset(nightlyData);
  if (merged.valid.length !== 0) throw new Error(`${setup.dataset}: the train+valid dataset has ${merged.valid.length} valid rows; expected 0`);
  const users: Record<ColdKind, number> = { cold: c.relevant.size, new: c.by_kind.new.users, recent: c.by_kind.recent.users };
  const items: Record<ColdKind, number> = { cold: c.test_new_items, new: c.by_kind.new.items, recent: c.by_kind.recent.items };
  const ref = (k: ColdKind) => {
    const r = k === 'cold' ? c : c.by_kind[k];
    return { random: r.random, valid_popularity: r.valid_popularity, oracle_test_popularity: r.oracle_test_popularity };
  };
  const references = { cold: ref('cold'), new: ref('new'), recent: ref('recent') };
  const f = (x: ColdFigures) => `${x['recall@20']}/${x['ndcg@20']}`;
  ctx.log(`  ${setup.dataset}: users cold/new/recent ${users.cold}/${users.new}/${users.recent}; valid popularity ${f(references.cold.valid_popularity)}, ${f(references.new.valid_popularity)}, ${f(references.recent.valid_popularity)}; random ${f(references.cold.random)}`);
  const runs: NegativesDatasetResult['runs'] = {};
  for (const sampling of samplings) runs[sampling] = await pipeline(ctx, setup, nightlyData, cands, users, sampling);
  return { dataset: setup.dataset, split: setup.split, users, items, references, runs, load_avg_1m: round(load, 2) };
}

const COMMAND =
  'per --negative-sampling uniform|on_sale|mixed: rec train --model mf --loss bce (first: train; scratch: train+valid for the first best epoch; fine-tune: --init-from FIRST --replay 2 --epochs 20 --lr 0.005); rec eval --data FIRST --split test --protocol candidates:NEW_ITEMS --items cold|new|recent and --protocol full --items warm|all';

export async function coldNegativesArm(ctx: ModelArmContext): Promise<NegativesArmResult> {
  return coldNegatives(ctx, SAMPLINGS);
}

/** The arm with only some samplings (a script measuring one more against an earlier run of the others). */
export async function coldNegatives(ctx: ModelArmContext, samplings: readonly Sampling[]): Promise<NegativesArmResult> {
  const setups: { name: string; make: () => Promise<ColdSetup | string> | ColdSetup | string }[] = [{ name: 'synth', make: () => synthSetup(ctx) }];
  for (const category of ['Gift_Cards', 'Magazine_Subscriptions']) setups.push({ name: amazonName(category, 'temporal:0.5,0.25,0.25'), make: () => amazonSetup(ctx, category, 'temporal:0.5,0.25,0.25') });
  setups.push({ name: 'ml-latest-small-temporal', make: () => movielensTemporalSetup(ctx) });
  const datasets: NegativesArmResult['datasets'] = [];
  for (const s of setups) {
    if (ctx.datasets !== undefined && !ctx.datasets.some((d) => s.name.startsWith(d))) continue;
    const setup = await s.make();
    if (typeof setup === 'string') {
      ctx.log(`  ${s.name} skipped: ${setup}`);
      datasets.push({ dataset: s.name, skipped: setup });
    } else datasets.push(await negativesDataset(ctx, setup, samplings));
  }
  return { arm: 'cold-negatives', command: COMMAND, datasets };
}
