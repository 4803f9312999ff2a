/**
 * The one schema of `rec`'s configuration. YAML keys are snake_case; zod's strict objects make a
 * misspelt key an error (PRODUCT §8) and give JSON Schema for editors (configs/schema.json).
 * `.default()` here is the lowest layer of the precedence flags > env > config files > model
 * defaults (configs/models/<model>.yaml) > these defaults.
 */
import { z } from 'zod';
import { BUILT_MODELS, MODELS, type ModelName, unknownModelMessage } from './model-names.js';

export { BUILT_MODELS, MODELS, type ModelName };

export const BACKENDS = ['auto', 'node-gpu', 'node', 'wasm', 'cpu'] as const;
export const LOSSES = ['mse', 'bce', 'bpr', 'ce'] as const;
export const OPTIMIZERS = ['adam', 'adamw', 'sgd', 'adagrad'] as const;
export const LR_SCHEDULES = ['constant', 'step', 'exponential', 'cosine'] as const;

const positiveInt = z.number().int().positive();
const nonNegativeInt = z.number().int().nonnegative();
const positiveNumber = z.number().positive();
const nonNegativeNumber = z.number().nonnegative();

export const prepSchema = z.strictObject({
  format: z.enum(['auto', 'csv', 'tsv', 'jsonl']).default('auto'),
  /** Field delimiter; multi-character allowed (e.g. `::`). Null: from the format. */
  delimiter: z.string().min(1).nullable().default(null),
  /** Null: detect (the first row is a header when it names a mapped column). */
  header: z.boolean().nullable().default(null),
  /** `user=C,item=C[,rating=C][,event=C][,ts=C]`, C a column name or 0-based index. Null: guess from header or position. */
  columns: z.string().nullable().default(null),
  ts_unit: z.enum(['auto', 's', 'ms', 'iso']).default('auto'),
  /** strftime-like pattern, e.g. `%m-%d`. */
  ts_format: z.string().nullable().default(null),
  ts_year: z.number().int().min(1970).max(9999).nullable().default(null),
  feedback: z.enum(['auto', 'explicit', 'implicit']).default('auto'),
  /** `view=1,cart=3,buy=5`; null: every event weighs 1. */
  event_weights: z.string().nullable().default(null),
  dedupe: z.enum(['auto', 'first', 'last', 'max', 'sum', 'none']).default('auto'),
  min_user: nonNegativeInt.default(0),
  min_item: nonNegativeInt.default(0),
  split: z.string().default('random:0.8,0.1,0.1'),
  test: z.string().nullable().default(null),
  valid: z.string().nullable().default(null),
  anonymize: z.boolean().default(false),
  anonymize_key_file: z.string().nullable().default(null),
  /** A count (`100`) or a percentage of rows read (`5%`). */
  max_rejects: z.union([nonNegativeInt, z.string().regex(/^\d+(\.\d+)?%$|^\d+$/)]).default('5%'),
  /** Warnings (implausible ratings or times, a column rejecting most rows, empty splits) are errors: exit 1, nothing written. */
  strict: z.boolean().default(false),
});

export const modelSchema = z.strictObject({
  /** Predictive factors: MF/GMF embedding size, last MLP layer, SASRec hidden size. */
  dim: positiveInt.default(32),
  /** MLP tower; empty: 8d,4d,2d,d (PRODUCT §5). */
  layers: z.array(positiveInt).default([]),
  alpha: z.number().min(0).max(1).default(0.5),
  dropout: z.number().min(0).max(1).default(0.2),
  max_len: positiveInt.default(50),
  blocks: positiveInt.default(2),
  heads: positiveInt.default(1),
  init_std: positiveNumber.default(0.01),
});

export const trainSchema = z.strictObject({
  /** Only built models; MODELS also names planned ones (config/model-names.ts). */
  model: z.enum(BUILT_MODELS, { error: (issue) => unknownModelMessage(issue.input) }).default('mf'),
  loss: z.enum([...LOSSES, 'auto']).default('auto'),
  epochs: positiveInt.default(20),
  batch_size: positiveInt.default(4096),
  lr: positiveNumber.default(0.005),
  lr_schedule: z.enum(LR_SCHEDULES).default('constant'),
  /** Multiplier per decay step (step/exponential) or floor ratio (cosine). */
  lr_decay: z.number().gt(0).max(1).default(0.5),
  lr_step_epochs: positiveInt.default(10),
  optimizer: z.enum(OPTIMIZERS).default('adam'),
  l2: nonNegativeNumber.default(0),
  weight_decay: nonNegativeNumber.default(0),
  /** Row-sparse updates of embedding tables (PRODUCT §5); false: dense updates. */
  sparse: z.boolean().default(true),
  /** Closed-form step for models that have one (MF, GMF) on cpu/wasm; false: TF.js autograd always. */
  fused: z.boolean().default(true),
  negatives: nonNegativeInt.default(4),
  /** bce/bpr: only training rows with value >= this are positives (explicit ratings); null: every row. */
  positive_threshold: z.number().nullable().default(null),
  early_stopping: z
    .strictObject({
      metric: z.string().default('auto'),
      patience: nonNegativeInt.default(3),
    })
    .prefault({}),
  valid_from_train: z.number().gt(0).lt(1).nullable().default(null),
  save_every: nonNegativeInt.default(0),
  /** Most validation users ranked per epoch (a seeded sample fixed for the run); 0 ranks them all; null: sized from the catalogue. */
  valid_users: nonNegativeInt.nullable().default(null),
  freeze: z.array(z.string()).default([]),
  /** Checkpoints to initialise from (`--init-from`, repeatable): one of the same model, or a gmf and an mlp one for neumf. */
  init_from: z.array(z.string()).default([]),
  /**
   * With one --init-from parent: train on the rows newer than the parent's training data plus, each
   * epoch, a seeded sample of this fraction × (new rows) from the older ones; 0: the new rows alone;
   * null: the whole train split (src/train/fine-tune.ts).
   */
  replay: nonNegativeNumber.nullable().default(null),
  /** Replicas of synchronous data-parallel training (main thread + worker threads); auto: the cores this process may use. */
  workers: z.union([positiveInt, z.literal('auto')]).default('auto'),
});

export const evalSchema = z.strictObject({
  split: z.enum(['test', 'valid']).default('test'),
  protocol: z.string().default('full'),
  k: z.array(positiveInt).min(1).default([5, 10, 20]),
  metrics: z.array(z.string()).default([]),
  relevance_threshold: z.number().nullable().default(null),
  /** Most users scored per block in full ranking (eval, validation, recommend); a memory budget may lower it. */
  user_block: positiveInt.default(256),
  /** Threads of the full protocol's ranking (main thread + worker threads); auto: the cores, when there are enough users to pay for them. */
  workers: z.union([positiveInt, z.literal('auto')]).default('auto'),
});

export const configSchema = z.strictObject({
  seed: z.number().int().min(1).max(2 ** 31 - 1).default(2020),
  backend: z.enum(BACKENDS).default('auto'),
  log_level: z.enum(['error', 'warn', 'info', 'debug']).default('info'),
  progress: z.boolean().default(true),
  prep: prepSchema.prefault({}),
  model: modelSchema.prefault({}),
  train: trainSchema.prefault({}),
  eval: evalSchema.prefault({}),
});

export type Config = z.infer<typeof configSchema>;
export type PrepConfig = z.infer<typeof prepSchema>;
export type ModelConfig = z.infer<typeof modelSchema>;
export type TrainConfig = z.infer<typeof trainSchema>;
export type EvalConfig = z.infer<typeof evalSchema>;
export type BackendName = (typeof BACKENDS)[number];
