/**
 * The declarative option table (npm-check-updates style): one row per config-backed flag drives
 * commander, `--help`, the REC_* environment layer and the flag layer of the config. Flags that are
 * not configuration (a command's --out, --resume, gates) are declared by their command.
 */
import type { Command } from 'commander';
import type { ConfigLayer } from '../config/load.js';
import { BUILT_MODELS } from '../config/model-names.js';
import { setPath, type Tree } from '../config/tree.js';
import { UsageError, describeValue } from '../util/errors.js';
import { parseDecimal, parseSafeInteger } from '../util/numbers.js';

export type CommandName = 'prep' | 'train' | 'eval' | 'recommend' | 'search' | 'synth' | 'doctor' | 'runs' | 'report' | 'promote' | 'drift' | 'tune';
type ValueType = 'int' | 'number' | 'string' | 'bool' | 'intList' | 'stringList' | 'countOrPercent' | 'nullableBool' | 'intOrAuto';

export interface OptionSpec {
  /** Dotted config key (`train.batch_size`). */
  key: string;
  /** Commander flag spelling, e.g. `--batch-size <n>`. */
  flag: string;
  description: string;
  type: ValueType;
  commands: readonly CommandName[];
  /** Extra flag for the negative of a nullable boolean (`--no-header`). */
  negate?: string;
  /** A valid value, quoted in the error for a bad one (lists). */
  example?: string;
}

const ALL: readonly CommandName[] = ['prep', 'train', 'eval', 'recommend'];
const TRAIN: readonly CommandName[] = ['train'];
const PREP: readonly CommandName[] = ['prep', 'train'];
/** How a log is read: also for rec drift, which reads logs as prep does and writes nothing. */
const READ: readonly CommandName[] = ['prep', 'train', 'drift'];

export const OPTIONS: readonly OptionSpec[] = [
  { key: 'seed', flag: '--seed <n>', type: 'int', commands: ['prep', 'train', 'eval'], description: 'seed of every random stream (default 2020)' },
  { key: 'backend', flag: '--backend <name>', type: 'string', commands: ['train', 'eval', 'recommend', 'search'], description: 'engine: auto|node-gpu|node|wasm|cpu' },
  { key: 'log_level', flag: '--log-level <level>', type: 'string', commands: [...ALL, 'synth', 'doctor', 'runs', 'report', 'promote', 'drift'], description: 'error|warn|info|debug' },
  // prep
  { key: 'prep.format', flag: '--format <fmt>', type: 'string', commands: READ, description: 'csv|tsv|jsonl|parquet|arrow (default: from the file extension; a folder is read recursively)' },
  { key: 'prep.delimiter', flag: '--delimiter <str>', type: 'string', commands: READ, description: 'field delimiter, multi-character allowed (e.g. "::")' },
  { key: 'prep.header', flag: '--header', negate: '--no-header', type: 'nullableBool', commands: READ, description: 'the first line is (or, --no-header, is not) a header (default: detect)' },
  { key: 'prep.columns', flag: '--columns <map>', type: 'string', commands: READ, description: 'user=C,item=C[,rating=C][,event=C][,ts=C], or a search log query=C,item=C[,user=C][,ts=C][,relevance=C|event=C]; C a name or 0-based index' },
  { key: 'prep.ts_unit', flag: '--ts-unit <unit>', type: 'string', commands: READ, description: 's|ms|iso (default: detect)' },
  { key: 'prep.ts_format', flag: '--ts-format <pattern>', type: 'string', commands: READ, description: 'date pattern such as %m-%d (with --ts-year)' },
  { key: 'prep.ts_year', flag: '--ts-year <yyyy>', type: 'int', commands: READ, description: 'year for dates without one' },
  { key: 'prep.feedback', flag: '--feedback <kind>', type: 'string', commands: READ, description: 'explicit|implicit (default: explicit when a rating column is mapped)' },
  { key: 'prep.event_weights', flag: '--event-weights <map>', type: 'string', commands: READ, description: 'implicit weight per event type, e.g. view=1,cart=3,buy=5' },
  { key: 'prep.dedupe', flag: '--dedupe <rule>', type: 'string', commands: PREP, description: 'first|last|max|sum|none for repeated (user,item) (default: last explicit, max implicit)' },
  { key: 'prep.min_user', flag: '--min-user <n>', type: 'int', commands: PREP, description: 'iterative k-core: minimum interactions per user' },
  { key: 'prep.min_item', flag: '--min-item <n>', type: 'int', commands: PREP, description: 'iterative k-core: minimum interactions per item' },
  { key: 'prep.split', flag: '--split <spec>', type: 'string', commands: PREP, description: 'random:TRAIN,VALID,TEST | temporal:TRAIN,VALID,TEST | query:TRAIN,VALID,TEST (search logs; their default query:0.8,0.1,0.1) | leave-last | none' },
  { key: 'prep.test', flag: '--test <file>', type: 'string', commands: PREP, description: 'predefined test split file' },
  { key: 'prep.valid', flag: '--valid <file>', type: 'string', commands: PREP, description: 'predefined validation split file' },
  { key: 'prep.anonymize', flag: '--anonymize', type: 'bool', commands: ['prep'], description: 'replace user ids by a keyed HMAC-SHA256 (key from --anonymize-key-file or REC_ANON_KEY)' },
  { key: 'prep.anonymize_key_file', flag: '--anonymize-key-file <file>', type: 'string', commands: ['prep', 'eval', 'recommend', 'drift'], description: 'file holding the anonymisation key' },
  { key: 'prep.max_quoted_lines', flag: '--max-quoted-lines <n>', type: 'int', commands: READ, description: 'most lines a quoted field (RFC 4180) may carry a row over; one still open after them rejects only its first line (default 100; 1: rows never span lines)' },
  { key: 'prep.max_quoted_bytes', flag: '--max-quoted-bytes <n>', type: 'int', commands: READ, description: 'most bytes a row with an open quoted field may hold; over them only its first line is rejected (default 1048576)' },
  { key: 'prep.max_rejects', flag: '--max-rejects <n|p%>', type: 'countOrPercent', commands: READ, description: 'fail (exit 1) when more rows than this are rejected (default 5%)' },
  { key: 'prep.relevance_range', flag: '--relevance-range <min,max>', type: 'string', commands: ['prep'], description: 'search logs: range of the relevance labels; rows outside are rejected' },
  { key: 'prep.encoding', flag: '--encoding <name>', type: 'string', commands: READ, description: 'utf-8 (default) | latin1 | cp1252 | utf-16 | utf-8,cp1252 (UTF-8, invalid lines as cp1252); for logs and --items files' },
  { key: 'prep.items', flag: '--items <file>', type: 'stringList', commands: ['prep'], description: 'catalogue file, one row per item keyed by the log\'s item id (CSV/TSV with a header, or JSONL; .gz; repeatable)' },
  { key: 'prep.item_features', flag: '--item-features <spec>', type: 'string', commands: ['prep'], description: 'catalogue columns as NAME:KIND, KIND text|category|multi|number, e.g. title:text,brand:category,price:number (default: guessed)' },
  { key: 'prep.item_key', flag: '--item-key <column>', type: 'string', commands: ['prep'], description: 'catalogue column holding the item id (default: the first of item, item_id, id, asin, product_id)' },
  // model
  { key: 'train.model', flag: '--model <name>', type: 'string', commands: TRAIN, description: BUILT_MODELS.join('|') },
  { key: 'model.dim', flag: '--dim <n>', type: 'int', commands: TRAIN, description: 'predictive factors (embedding size)' },
  { key: 'model.layers', flag: '--layers <list>', type: 'intList', example: '64,32,16,8', commands: TRAIN, description: 'MLP tower, e.g. 64,32,16,8 (default 8d,4d,2d,d)' },
  { key: 'model.alpha', flag: '--alpha <x>', type: 'number', commands: TRAIN, description: 'NeuMF: weight of the GMF parent when built from parents' },
  { key: 'model.dropout', flag: '--dropout <x>', type: 'number', commands: TRAIN, description: 'dropout rate' },
  { key: 'model.max_len', flag: '--max-len <n>', type: 'int', commands: TRAIN, description: 'SASRec: most recent items of a history the model reads' },
  { key: 'model.blocks', flag: '--blocks <n>', type: 'int', commands: TRAIN, description: 'SASRec: self-attention blocks' },
  { key: 'model.heads', flag: '--heads <n>', type: 'int', commands: TRAIN, description: 'SASRec: attention heads (dim must be a multiple)' },
  { key: 'model.half_life_days', flag: '--half-life-days <x>', type: 'number', commands: TRAIN, description: 'pop: an event weighs half as much every X days before the newest training row (default: plain counts)' },
  { key: 'model.neighbours', flag: '--neighbours <n>', type: 'int', commands: TRAIN, description: 'itemknn: most similar items kept per item' },
  { key: 'model.shrink', flag: '--shrink <x>', type: 'number', commands: TRAIN, description: 'itemknn: cosine shrinkage, dot / (norms + x)' },
  { key: 'model.unobserved_weight', flag: '--unobserved-weight <x>', type: 'number', commands: TRAIN, description: 'ials: weight of each unobserved pair (observed: 1)' },
  { key: 'model.confidence', flag: '--confidence <x>', type: 'number', commands: TRAIN, description: 'ials: an observed pair weighs 1 + x × its value (default 0)' },
  { key: 'model.reg_exponent', flag: '--reg-exponent <x>', type: 'number', commands: TRAIN, description: 'ials: L2 scales with each row\'s pairs to this power (default 1; 0: plain --l2)' },
  { key: 'model.solver', flag: '--solver <name>', type: 'string', commands: TRAIN, description: 'ials: cg (conjugate gradient, default) or cholesky (exact)' },
  { key: 'model.id_dropout', flag: '--id-dropout <x>', type: 'number', commands: TRAIN, description: 'with item features: chance a step drops an item\'s id vector (default 0.25)' },
  { key: 'model.temperature', flag: '--temperature <x>', type: 'number', commands: TRAIN, description: 'two-tower, hybrid: softmax temperature of the in-batch loss (default 0.05)' },
  { key: 'model.bm25_k1', flag: '--bm25-k1 <x>', type: 'number', commands: TRAIN, description: 'bm25, hybrid: term-frequency saturation (default 1.2)' },
  { key: 'model.bm25_b', flag: '--bm25-b <x>', type: 'number', commands: TRAIN, description: 'bm25, hybrid: length normalisation (default 0.75)' },
  { key: 'model.cg_steps', flag: '--cg-steps <n>', type: 'int', commands: TRAIN, description: 'ials: conjugate-gradient iterations per row and epoch' },
  { key: 'model.samples', flag: '--samples <n>', type: 'int', commands: TRAIN, description: 'bpmf: posterior draws averaged into the prediction (default 60)' },
  { key: 'model.burn_in', flag: '--burn-in <n>', type: 'int', commands: TRAIN, description: 'bpmf: Gibbs sweeps (epochs) discarded before averaging (default 15)' },
  { key: 'model.noise_precision', flag: '--noise-precision <x>', type: 'number', commands: TRAIN, description: 'bpmf: precision of the rating noise (default 1.5)' },
  // train
  { key: 'train.loss', flag: '--loss <name>', type: 'string', commands: TRAIN, description: 'mse|bce|bpr for (user, item) models (default: mse explicit, bce implicit); bce|ce for sasrec (default: ce, configs/models/sasrec.yaml)' },
  { key: 'train.epochs', flag: '--epochs <n>', type: 'int', commands: TRAIN, description: 'training epochs' },
  { key: 'train.batch_size', flag: '--batch-size <n>', type: 'int', commands: TRAIN, description: 'examples per step' },
  { key: 'train.lr', flag: '--lr <x>', type: 'number', commands: TRAIN, description: 'learning rate' },
  { key: 'train.negative_sampling', flag: '--negative-sampling <how>', type: 'string', commands: TRAIN, description: 'uniform|on_sale|mixed: pair models\' negatives among all trained items, those on sale at the positive\'s time, or half each' },
  { key: 'train.lr_schedule', flag: '--lr-schedule <name>', type: 'string', commands: TRAIN, description: 'constant|step|exponential|cosine' },
  { key: 'train.optimizer', flag: '--optimizer <name>', type: 'string', commands: TRAIN, description: 'adam|adamw|sgd|adagrad' },
  { key: 'train.l2', flag: '--l2 <x>', type: 'number', commands: TRAIN, description: 'L2 penalty on the parameters used in a batch (ease, ials: the ridge λ)' },
  { key: 'train.weight_decay', flag: '--weight-decay <x>', type: 'number', commands: TRAIN, description: 'decoupled weight decay (adamw)' },
  { key: 'train.sparse', flag: '--sparse', negate: '--dense', type: 'nullableBool', commands: TRAIN, description: 'row-sparse embedding updates (default); --dense updates whole tables' },
  { key: 'train.features', flag: '--features <mode>', type: 'string', commands: TRAIN, description: 'auto (default): use the dataset\'s item catalogue in mf/gmf/mlp/neumf/sasrec; none: ids only' },
  { key: 'train.fused', flag: '--fused', negate: '--no-fused', type: 'nullableBool', commands: TRAIN, description: 'closed-form MF/GMF step on cpu/wasm (default); --no-fused: TF.js autograd' },
  { key: 'train.negatives', flag: '--negatives <n>', type: 'int', commands: TRAIN, description: 'pair models: sampled negatives per positive (bce, bpr); sasrec ce: 0 = softmax over every item, N = N items sampled per batch' },
  { key: 'train.positive_threshold', flag: '--positive-threshold <r>', type: 'number', commands: TRAIN, description: 'bce/bpr: only rows with value >= R are positives, e.g. 4 on 1-5 ratings; sasrec: only they form the sequences (default: every row)' },
  { key: 'train.early_stopping.metric', flag: '--early-stop <metric>', type: 'string', commands: TRAIN, description: 'validation metric for early stopping and best epoch (e.g. ndcg@10, rmse)' },
  { key: 'train.early_stopping.patience', flag: '--patience <n>', type: 'int', commands: TRAIN, description: 'epochs without improvement before stopping (0: never stop early)' },
  { key: 'train.valid_from_train', flag: '--valid-from-train <fraction>', type: 'number', commands: TRAIN, description: 'carve a validation split out of train when the dataset has none' },
  { key: 'train.valid_users', flag: '--valid-users <n>', type: 'int', commands: TRAIN, description: 'most validation users ranked per epoch, a seeded sample (default: up to 10000, fewer for a large catalogue; 0: all)' },
  { key: 'train.valid_protocol', flag: '--valid-protocol <p>', type: 'string', commands: TRAIN, description: 'per-epoch validation protocol: full (default) or sampled:N, e.g. sampled:99 to choose epochs as a sampled test protocol ranks' },
  { key: 'train.save_every', flag: '--save-every <steps>', type: 'int', commands: TRAIN, description: 'also save a resumable state every N steps' },
  { key: 'train.workers', flag: '--workers <n|auto>', type: 'intOrAuto', commands: TRAIN, description: 'threads of data-parallel training, each with its own engine and model replica (default auto: the cores available; 1: single-thread)' },
  { key: 'train.freeze', flag: '--freeze <parts>', type: 'stringList', commands: TRAIN, description: 'parameter groups kept fixed when fine-tuning, e.g. item_embedding' },
  { key: 'train.init_from', flag: '--init-from <ckpt>', type: 'stringList', commands: TRAIN, description: 'initialise from a checkpoint by raw id (repeatable; neumf: a gmf and an mlp checkpoint)' },
  { key: 'train.replay', flag: '--replay <fraction>', type: 'number', commands: TRAIN, description: 'with --init-from: train on the rows newer than the parent\'s data plus this fraction of them sampled from older rows each epoch (0: new rows only)' },
  // eval
  { key: 'eval.split', flag: '--split <name>', type: 'string', commands: ['eval'], description: 'test|valid' },
  { key: 'eval.protocol', flag: '--protocol <p>', type: 'string', commands: ['eval'], description: 'full | sampled:N | candidates:FILE' },
  { key: 'eval.k', flag: '--k <list>', type: 'intList', example: '5,10,20', commands: ['eval'], description: 'cut-offs, e.g. 5,10,20' },
  { key: 'eval.metrics', flag: '--metrics <list>', type: 'stringList', commands: ['eval'], description: 'metric names, e.g. ndcg,recall,rmse (default: all that apply)' },
  { key: 'eval.user_block', flag: '--user-block <n>', type: 'int', commands: ['eval', 'train', 'recommend'], description: 'most users scored at a time (default 256; lowered to fit a memory budget)' },
  { key: 'eval.workers', flag: '--workers <n|auto>', type: 'intOrAuto', commands: ['eval', 'recommend'], description: 'threads of the full ranking (eval --protocol full, recommend for users), each with its own engine and copy of the model (default auto: the cores available, when there are enough users; 1: single-thread)' },
  { key: 'eval.relevance_threshold', flag: '--relevance-threshold <r>', type: 'number', commands: ['eval'], description: 'explicit data: only values >= R are relevant' },
];

/** Training keys `rec tune` sets for every trial itself (--metric, --parallel) or that are no hyper-parameter of a study. */
const NOT_FOR_TUNE = new Set(['train.workers', 'train.init_from', 'train.freeze', 'train.replay', 'train.early_stopping.metric', 'train.save_every']);

export function optionsFor(command: CommandName): OptionSpec[] {
  // A study's trials take train's options (on a dataset folder: no prep options), shared by every trial.
  if (command === 'tune') return OPTIONS.filter((o) => o.commands.includes('train') && !o.key.startsWith('prep.') && !NOT_FOR_TUNE.has(o.key));
  return OPTIONS.filter((o) => o.commands.includes(command));
}

/** Commander's attribute name for a flag: `--batch-size <n>` → `batchSize`. */
export function attributeName(flag: string): string {
  const long = flag.split(/[ ,|]+/).find((part) => part.startsWith('--')) ?? flag;
  return long
    .replace(/^--(no-)?/, '')
    .replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
}

export function envName(key: string): string {
  return `REC_${key.replace(/\./g, '_').toUpperCase()}`;
}

export function flagName(spec: OptionSpec): string {
  return spec.flag.split(' ')[0];
}

function parseValue(spec: OptionSpec, raw: unknown, origin: string): unknown {
  if (spec.type === 'stringList') {
    const items = Array.isArray(raw) ? raw.map(String) : String(raw).split(',');
    return items.flatMap((s) => s.split(',')).map((s) => s.trim()).filter((s) => s.length > 0);
  }
  if (typeof raw === 'boolean') return raw;
  const text = String(raw).trim();
  const fail = (expected: string): never => {
    throw new UsageError(`${origin} expects ${expected}. Received: ${describeValue(text)}.`);
  };
  switch (spec.type) {
    case 'int': {
      const n = parseSafeInteger(text);
      if (Number.isNaN(n)) fail(`an integer (digits only, at most ${Number.MAX_SAFE_INTEGER})`);
      return n;
    }
    case 'number': {
      const n = parseDecimal(text);
      // Every number option ends up in float32 tensors or is compared with float32 values: 1e39
      // would silently be Infinity there.
      if (!Number.isFinite(Math.fround(n))) fail('a finite decimal number such as 0.005 or 5e-3 (no hex, Infinity or NaN; within float32 range, |x| < 3.4e38)');
      return n;
    }
    case 'intList': {
      const parts = text.split(',').map((s) => s.trim());
      const values = parts.map((p) => (/^\d+$/.test(p) ? parseSafeInteger(p) : Number.NaN));
      if (values.some((v) => Number.isNaN(v))) fail(`a comma-separated list of non-negative integers, e.g. ${spec.example ?? '1,2,3'}`);
      return values;
    }
    case 'countOrPercent': {
      // The percentage's range is checked with the rest of prep's options (data/prep/options.ts).
      if (/^\d+(\.\d+)?%$/.test(text)) return text;
      if (!/^\d+$/.test(text) || Number.isNaN(parseSafeInteger(text))) fail('a count (e.g. 100) or a percentage (e.g. 5%)');
      return Number(text);
    }
    case 'intOrAuto': {
      if (text === 'auto') return text;
      const n = /^\d+$/.test(text) ? parseSafeInteger(text) : Number.NaN;
      if (!(n >= 1)) fail('a positive integer (e.g. 2) or auto');
      return n;
    }
    case 'bool':
    case 'nullableBool': {
      if (/^(1|true|yes|on)$/i.test(text)) return true;
      if (/^(0|false|no|off)$/i.test(text)) return false;
      return fail('true or false');
    }
    default:
      // Strings as given: `--delimiter ' '` is a space, not an empty string.
      return String(raw);
  }
}

export function addConfigOptions(cmd: Command, command: CommandName): void {
  for (const spec of optionsFor(command)) {
    if (spec.type === 'stringList') {
      cmd.option(spec.flag, spec.description, (value: string, previous: string[] | undefined) => [...(previous ?? []), value]);
    } else {
      cmd.option(spec.flag, spec.description);
    }
    if (spec.negate) cmd.option(spec.negate, `(negation of ${flagName(spec)})`);
  }
}

/** The flag layer: only options the user actually typed (commander reports the source of each). */
export function flagLayer(cmd: Command, command: CommandName): ConfigLayer {
  const values: Tree = {};
  const origins: Record<string, string> = {};
  const opts = cmd.opts<Record<string, unknown>>();
  for (const spec of optionsFor(command)) {
    const attr = attributeName(spec.flag);
    // A negation spelt as its own word (`--dense` for `--sparse`) is a separate commander option;
    // `--no-X` shares X's attribute and arrives below as false.
    if (spec.negate && !spec.negate.startsWith('--no-') && cmd.getOptionValueSource(attributeName(spec.negate)) === 'cli') {
      setPath(values, spec.key, false);
      origins[spec.key] = `flag:${spec.negate}`;
      continue;
    }
    if (cmd.getOptionValueSource(attr) !== 'cli') continue;
    const raw = opts[attr];
    const typed = spec.negate && raw === false ? spec.negate : flagName(spec);
    setPath(values, spec.key, parseValue(spec, raw, typed));
    origins[spec.key] = `flag:${typed}`;
  }
  return { source: (path) => origins[path] ?? 'flag', values };
}

/** The environment layer: REC_<KEY> for every config-backed option of the command. */
export function envLayer(env: NodeJS.ProcessEnv, command: CommandName): ConfigLayer {
  const values: Tree = {};
  for (const spec of optionsFor(command)) {
    const name = envName(spec.key);
    const raw = env[name];
    if (raw === undefined || raw === '') continue;
    setPath(values, spec.key, parseValue(spec, raw, `Environment variable ${name}`));
  }
  return { source: (path) => `env:${envName(path)}`, values };
}
