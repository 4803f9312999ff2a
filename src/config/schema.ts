/**
 * The one schema of `rec`'s configuration. YAML keys are snake_case; zod's strict objects make a
 * misspelt key an error (README.md#configuration) and give JSON Schema for editors (configs/schema.json).
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

export const prepSchema = z
  .strictObject({
    format: z.enum(['auto', 'csv', 'tsv', 'jsonl', 'parquet', 'arrow']).default('auto').describe('Log format (--format); auto: from the file extension.'),
    delimiter: z.string().min(1).nullable().default(null).describe('Field delimiter (--delimiter); multi-character allowed, e.g. "::". Null: from the format.'),
    header: z.boolean().nullable().default(null).describe('Whether the first line is a header (--header / --no-header). Null: detect (a header names a mapped column).'),
    columns: z
      .string()
      .nullable()
      .default(null)
      .describe('Column mapping (--columns): user=C,item=C[,rating=C][,event=C][,ts=C], C a column name or 0-based index. Null: guess from the header or positions.'),
    ts_unit: z.enum(['auto', 's', 'ms', 'iso']).default('auto').describe('Timestamp unit (--ts-unit): seconds, milliseconds or ISO 8601 text; auto: detect.'),
    ts_format: z.string().nullable().default(null).describe('strftime-like date pattern (--ts-format), e.g. %m-%d (with ts_year for dates without a year).'),
    ts_year: z.number().int().min(1970).max(9999).nullable().default(null).describe('Year for dates whose pattern has none (--ts-year).'),
    feedback: z.enum(['auto', 'explicit', 'implicit']).default('auto').describe('explicit ratings or implicit events (--feedback); auto: explicit when a rating column is mapped.'),
    event_weights: z.string().nullable().default(null).describe('Implicit weight per event type (--event-weights), e.g. view=1,cart=3,buy=5. Null: every event weighs 1.'),
    dedupe: z
      .enum(['auto', 'first', 'last', 'max', 'sum', 'none'])
      .default('auto')
      .describe('What to keep of repeated (user, item) rows (--dedupe); auto: last for explicit, max for implicit feedback.'),
    min_user: nonNegativeInt.default(0).describe('Iterative k-core: minimum interactions per user (--min-user); 0: no filter.'),
    min_item: nonNegativeInt.default(0).describe('Iterative k-core: minimum interactions per item (--min-item); 0: no filter.'),
    split: z.string().default('random:0.8,0.1,0.1').describe('Split (--split): random:TRAIN,VALID,TEST | temporal:TRAIN,VALID,TEST | leave-last | none.'),
    test: z.string().nullable().default(null).describe('Predefined test split file (--test); null: split the log.'),
    valid: z.string().nullable().default(null).describe('Predefined validation split file (--valid); null: split the log.'),
    anonymize: z.boolean().default(false).describe('Replace user ids by a keyed HMAC-SHA256 (--anonymize); the key from anonymize_key_file or REC_ANON_KEY.'),
    anonymize_key_file: z.string().nullable().default(null).describe('File holding the anonymisation key (--anonymize-key-file).'),
    max_rejects: z
      .union([nonNegativeInt, z.string().regex(/^\d+(\.\d+)?%$|^\d+$/)])
      .default('5%')
      .describe('Fail (exit 1) when more rows than this are rejected (--max-rejects): a count (100) or a percentage of rows read (5%).'),
    max_quoted_lines: positiveInt
      .default(100)
      .describe('Most lines a quoted field may carry a row over (--max-quoted-lines); a field still open after them rejects only the line where it opened, and reading resumes at the next line. 1: rows never span lines.'),
    max_quoted_bytes: positiveInt
      .max(256 * 1024 * 1024)
      .default(1024 * 1024)
      .describe('Most bytes a row with an open quoted field may hold (--max-quoted-bytes), at most 256 MiB; a field still open after them rejects only the line where it opened, and reading resumes at the next line.'),
    strict: z
      .boolean()
      .default(false)
      .describe('Warnings (implausible ratings or times, a column rejecting most rows, empty splits) are errors: exit 1, nothing written (--strict).'),
    items: z
      .array(z.string().min(1))
      .default([])
      .describe('Catalogue files (--items, repeatable): CSV/TSV with a header or JSONL, optionally .gz; one row per item keyed by the log\'s raw item id.'),
    item_features: z
      .string()
      .nullable()
      .default(null)
      .describe('Catalogue columns and kinds (--item-features): NAME:KIND[,NAME:KIND…], KIND text|category|multi|number. Null: guessed from the first rows.'),
    relevance_range: z
      .string()
      .nullable()
      .default(null)
      .describe('Search logs: MIN,MAX of the relevance labels (--relevance-range); rows outside are rejected relevance_out_of_range. Null: any finite value.'),
    encoding: z
      .string()
      .nullable()
      .default(null)
      .describe('Text encoding of the logs and catalogue files (--encoding): utf-8, latin1, cp1252, utf-16 (LE without a BOM), or utf-8,cp1252 / utf-8,latin1 (UTF-8, and lines invalid in it read as the second). Null: UTF-8, or what a byte-order mark names.'),
    item_key: z
      .string()
      .min(1)
      .nullable()
      .default(null)
      .describe('Catalogue column holding the item id (--item-key). Null: the first of item, item_id, id, asin, product_id present.'),
  })
  .describe('rec prep: how a behaviour log is read, cleaned and split.');

export const modelSchema = z
  .strictObject({
    dim: positiveInt.default(32).describe('Predictive factors (--dim): MF/GMF embedding size, last MLP layer, SASRec hidden size.'),
    layers: z.array(positiveInt).default([]).describe('MLP tower widths (--layers), e.g. [64, 32, 16, 8]; empty: 8d,4d,2d,d.'),
    alpha: z.number().min(0).max(1).default(0.5).describe('NeuMF built from GMF and MLP parents: weight of the GMF parent (--alpha).'),
    dropout: z.number().min(0).max(1).default(0.2).describe('Dropout rate (--dropout).'),
    max_len: positiveInt.default(50).describe('SASRec: most recent items of a history the model reads (--max-len).'),
    blocks: positiveInt.default(2).describe('SASRec: self-attention blocks (--blocks).'),
    heads: positiveInt.default(1).describe('SASRec: attention heads (--heads); dim must be a multiple.'),
    init_std: positiveNumber.default(0.01).describe('Standard deviation of the normal initialisation of embeddings.'),
    half_life_days: positiveNumber.nullable().default(null).describe('pop: weight of an event halves every this many days before the newest training row (--half-life-days); null: plain counts.'),
    neighbours: positiveInt.default(100).describe('itemknn: most similar items kept per item (--neighbours).'),
    shrink: nonNegativeNumber.default(10).describe('itemknn: shrinkage h of the cosine, dot / (norms + h): damps similarities resting on few users (--shrink).'),
    unobserved_weight: nonNegativeNumber.default(0.1).describe('ials: weight of every unobserved (user, item) pair against 1 for an observed one (--unobserved-weight).'),
    confidence: nonNegativeNumber.default(0).describe('ials: an observed pair weighs 1 + confidence × its value (Hu et al. 2008; --confidence); 0: every observed pair weighs 1.'),
    reg_exponent: nonNegativeNumber.default(1).describe('ials: L2 of a row scales with (its observed pairs + unobserved_weight × the other side) to this power (Rendle et al. 2022; --reg-exponent); 0: plain train.l2.'),
    solver: z.enum(['cg', 'cholesky']).default('cg').describe('ials: per-row least-squares solver (--solver): conjugate gradient warm-started from the previous epoch, or an exact Cholesky solve.'),
    cg_steps: positiveInt.default(3).describe('ials: conjugate-gradient iterations per row and epoch (--cg-steps).'),
    samples: positiveInt.default(60).describe('bpmf: posterior draws averaged into the prediction (--samples); the tables hold dim × samples columns.'),
    burn_in: nonNegativeInt.default(15).describe('bpmf: Gibbs sweeps (epochs) discarded before draws are averaged (--burn-in).'),
    noise_precision: positiveNumber.default(1.5).describe('bpmf: precision α of the rating noise, r ~ N(μ + p·q, 1/α) (--noise-precision); lower trusts each rating less.'),
    id_dropout: z
      .number()
      .min(0)
      .lt(1)
      .default(0.25)
      .describe('With item features: probability that a training step drops an item\'s id vector, so its features alone must score it (--id-dropout; DropoutNet).'),
    temperature: positiveNumber.default(0.05).describe('two-tower, hybrid: softmax temperature of the in-batch loss, logits = cosine / temperature (--temperature).'),
    bm25_k1: nonNegativeNumber.default(1.2).describe('bm25, hybrid: term-frequency saturation k1 (--bm25-k1).'),
    bm25_b: z.number().min(0).max(1).default(0.75).describe('bm25, hybrid: length normalisation b (--bm25-b).'),
  })
  .describe('Model shape (rec train); each model\'s own defaults are in configs/models/<model>.yaml.');

export const trainSchema = z
  .strictObject({
    // Only built models; MODELS also names planned ones (config/model-names.ts).
    model: z
      .enum(BUILT_MODELS, { error: (issue) => unknownModelMessage(issue.input) })
      .default('mf')
      .describe(`Model to train (--model): ${BUILT_MODELS.join(', ')}.`),
    loss: z
      .enum([...LOSSES, 'auto'])
      .default('auto')
      .describe('Loss (--loss): mse, bce or bpr for (user, item) models (auto: mse explicit, bce implicit); bce or ce for sasrec.'),
    epochs: positiveInt.default(20).describe('Most training epochs (--epochs); early stopping may end sooner.'),
    batch_size: positiveInt.default(4096).describe('Examples per step (--batch-size).'),
    lr: positiveNumber.default(0.005).describe('Learning rate (--lr).'),
    lr_schedule: z.enum(LR_SCHEDULES).default('constant').describe('Learning-rate schedule over epochs (--lr-schedule).'),
    lr_decay: z.number().gt(0).max(1).default(0.5).describe('Multiplier per decay step (step, exponential) or floor ratio (cosine).'),
    lr_step_epochs: positiveInt.default(10).describe('Epochs between decays of the step schedule.'),
    optimizer: z.enum(OPTIMIZERS).default('adam').describe('Optimizer (--optimizer).'),
    l2: nonNegativeNumber.default(0).describe('L2 penalty on the parameters used in a batch (--l2).'),
    weight_decay: nonNegativeNumber.default(0).describe('Decoupled weight decay, adamw (--weight-decay).'),
    sparse: z.boolean().default(true).describe('Row-sparse updates of embedding tables (--sparse); false: dense updates of whole tables (--dense).'),
    features: z
      .enum(['auto', 'none'])
      .default('auto')
      .describe('Item features (--features): auto uses the dataset\'s catalogue (rec prep --items) in mf, gmf, mlp, neumf and sasrec; none trains on ids only.'),
    fused: z.boolean().default(true).describe('Closed-form step for models that have one (MF, GMF) on cpu/wasm (--fused); false: TF.js autograd always.'),
    negatives: nonNegativeInt
      .default(4)
      .describe('Pair models: sampled negatives per positive (bce, bpr). sasrec ce: 0 = softmax over every item, N = N items sampled per batch (--negatives).'),
    negative_sampling: z
      .enum(['uniform', 'on_sale', 'mixed'])
      .default('uniform')
      .describe(
        'Pair models, bce and bpr: where negatives are drawn (--negative-sampling): uniform over the items with training rows; on_sale, among those already on sale (first training row at or before) at the positive\'s time; mixed, each negative one way or the other with even odds. Needs timestamps (on_sale, mixed).',
      ),
    positive_threshold: z
      .number()
      .nullable()
      .default(null)
      .describe('Only training rows with value >= this count (--positive-threshold): positives for bce/bpr, the sequence for sasrec; null: every row.'),
    early_stopping: z
      .strictObject({
        metric: z.string().default('auto').describe('Validation metric for early stopping and the best epoch (--early-stop), e.g. ndcg@10 or rmse; auto: rmse for mse, else ndcg@10.'),
        patience: nonNegativeInt.default(3).describe('Epochs without improvement before stopping (--patience); 0: never stop early.'),
      })
      .prefault({})
      .describe('Early stopping on the validation split.'),
    valid_from_train: z
      .number()
      .gt(0)
      .lt(1)
      .nullable()
      .default(null)
      .describe('Carve this fraction of train out as validation when the dataset has none (--valid-from-train).'),
    save_every: nonNegativeInt.default(0).describe('Also save a resumable state every N steps (--save-every); 0: at epoch ends only.'),
    valid_users: nonNegativeInt
      .nullable()
      .default(null)
      .describe('Most validation users ranked per epoch, a seeded sample fixed for the run (--valid-users); 0: all; null: sized from the catalogue.'),
    valid_protocol: z
      .string()
      .regex(/^(full|sampled:[1-9][0-9]*)$/, 'expected full or sampled:N (N a positive integer, e.g. sampled:99)')
      .default('full')
      .describe('How per-epoch validation ranks each valid item (--valid-protocol): full (against every item) or sampled:N (against N seeded negatives, as a sampled test protocol does).'),
    freeze: z.array(z.string()).default([]).describe('Parameter groups kept fixed when fine-tuning (--freeze), e.g. item_embedding.'),
    init_from: z
      .array(z.string())
      .default([])
      .describe('Checkpoints to initialise from by raw id (--init-from, repeatable): one of the same model, or a gmf and an mlp one for neumf.'),
    replay: nonNegativeNumber
      .nullable()
      .default(null)
      .describe(
        'With one init_from parent: train on the rows newer than its training data plus, each epoch, a seeded sample of this fraction x (new rows) of the older ones (--replay); 0: the new rows alone; null: the whole train split.',
      ),
    workers: z
      .union([positiveInt, z.literal('auto')])
      .default('auto')
      .describe('Replicas of synchronous data-parallel training, main thread + worker threads (--workers); auto: the cores this process may use.'),
  })
  .describe('rec train: the loss, the optimizer, epochs, validation and fine-tuning.');

export const evalSchema = z
  .strictObject({
    split: z.enum(['test', 'valid']).default('test').describe('Split to evaluate (--split).'),
    protocol: z.string().default('full').describe('Protocol (--protocol): full | sampled:N | candidates:FILE.'),
    k: z.array(positiveInt).min(1).default([5, 10, 20]).describe('Cut-offs of the ranking metrics (--k).'),
    metrics: z.array(z.string()).default([]).describe('Metric names (--metrics), e.g. [ndcg, recall, rmse]; empty: all that apply.'),
    relevance_threshold: z.number().nullable().default(null).describe('Explicit data: only values >= this are relevant (--relevance-threshold); null: every row.'),
    user_block: positiveInt.default(256).describe('Most users scored per block in full ranking: eval, validation, recommend (--user-block); a memory budget may lower it.'),
    workers: z
      .union([positiveInt, z.literal('auto')])
      .default('auto')
      .describe('Threads of the full ranking, main thread + worker threads (--workers); auto: the cores, when there are enough users to pay for them.'),
  })
  .describe('rec eval (and validation, rec recommend): split, protocol and metrics.');

export const configSchema = z.strictObject({
  seed: z
    .number()
    .int()
    .min(1)
    .max(2 ** 31 - 1)
    .default(2020)
    .describe('Seed of every random stream: splits, sampling, initialisation (--seed).'),
  backend: z.enum(BACKENDS).default('auto').describe('TF.js engine (--backend); auto: node-gpu, then node, then wasm, then cpu.'),
  log_level: z.enum(['error', 'warn', 'info', 'debug']).default('info').describe('Logging on stderr (--log-level; -q is warn, -v is debug).'),
  progress: z.boolean().default(true).describe('Progress bars on a terminal (false: --no-progress).'),
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
