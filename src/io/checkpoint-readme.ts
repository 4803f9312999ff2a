/**
 * The README.md of a checkpoint folder: what each file is, for whoever opens the folder months
 * later without rec's docs at hand (PRODUCT §4). Written once, when `rec train` creates the
 * checkpoint; it is rec's own file there, like the others.
 */
import { join } from 'node:path';
import { writeFileAtomic } from './atomic.js';

export const CHECKPOINT_README = 'README.md';

export function checkpointReadme(model: string): string {
  return `# rec checkpoint (${model})

Written by \`rec train\`. Use it with \`rec eval DIR\`, \`rec recommend DIR\`, \`rec train --init-from DIR\`
(fine-tuning), or continue an interrupted run with \`rec train --out DIR --resume\`.

| entry | what it is |
|---|---|
| \`model/\` | the weights of the best epoch by the validation metric (the last epoch when there is no validation split): TF.js format, \`model.json\` + \`weights.bin\`, loadable with \`tf.loadLayersModel\` of \`@tensorflow/tfjs\`. \`rec eval\` and \`rec recommend\` use these. |
| \`last/\` | the latest resumable state: \`model/\`, the optimizer state (\`optimizer.json\` + \`optimizer.bin\`) and \`trainer_state.json\` (epoch, step, random-stream states). Complete only once \`trainer_state.json\` exists. \`--resume\` uses it. |
| \`vocab/\` | \`users.arrow\` and \`items.arrow\` (Arrow IPC: \`index\`, \`id\`, \`count\`, \`first_ts\`, \`last_ts\`): the raw id of each embedding row, so the model can be used and fine-tuned without the dataset; \`trained.json\`: which rows the model learned (one bit a row, base64): the others are still random, so eval and recommend do not score them. |
| \`data/\` | only when \`--data\` was a raw log: the dataset folder prepped from it. |
| \`config.yaml\` | the resolved configuration, with the source of each value (default, model defaults, config file, environment, flag). |
| \`run.json\` | the run: format version, command line, versions, engine, seed, dataset path and manifest hash, parents (\`--init-from\`), timings, status. |
| \`metrics.jsonl\` | one JSON line per epoch: \`epoch\`, \`loss\`, \`seconds\`, \`examples_per_s\`, \`lr\`, \`valid\` (validation metrics). |
| \`best.json\` | the epoch \`model/\` holds, the monitored metric and its validation metrics. |
| \`tb/\` | TensorBoard event files (\`tensorboard --logdir DIR\`): \`train/loss\`, \`train/lr\`, \`train/examples_per_s\` by global step; \`epoch/*\` and \`valid/*\` by epoch; \`eval/<split>/<protocol>/<metric>\` at the epoch \`model/\` holds. |
| \`eval-<split>-<protocol>.json\` | results of \`rec eval\` (e.g. \`eval-test-full.json\`); \`*.negatives.tsv\` beside one holds its sampled negatives for reuse. |

Every file is written atomically (a temporary in this folder, then a rename); names containing
\`.tmp-\` are leftovers of an interrupted write and can be deleted.
`;
}

export async function writeCheckpointReadme(ckpt: string, model: string): Promise<void> {
  await writeFileAtomic(join(ckpt, CHECKPOINT_README), checkpointReadme(model));
}
