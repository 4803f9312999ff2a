/**
 * The search space of `rec tune` (docs/tuning.md#the-space-file): a YAML mapping from training
 * config keys to distributions, with sections named after a model holding the keys only that
 * model reads. Validated as strictly as a config: an unknown key (with "did you mean"), a key the
 * model does not read, an empty range, a log range touching 0 or a value the config schema refuses
 * is a UsageError naming FILE:LINE and the key, before any trial runs.
 */
import { readFile } from 'node:fs/promises';
import { isMap, isScalar, LineCounter, parseDocument, type Node, type Pair } from 'yaml';
import { allKeyPaths, suggestKey } from '../config/load.js';
import { configSchema, MODELS, type ModelName } from '../config/schema.js';
import { setPath, type Tree } from '../config/tree.js';
import { family } from '../models/registry.js';
import { checkFittedOptions, checkFamilyOptions } from '../models/family.js';
import { describeValue, UsageError } from '../util/errors.js';

export type ChoiceValue = string | number | boolean;

interface ParamBase {
  /** Dotted config key, e.g. `train.lr`. */
  key: string;
  /** 1-based line of the key in the space file (0 when built in code). */
  line: number;
}

export type Param =
  | (ParamBase & { kind: 'uniform' | 'log_uniform'; low: number; high: number })
  | (ParamBase & { kind: 'int'; low: number; high: number; log: boolean })
  | (ParamBase & { kind: 'choice'; values: ChoiceValue[] });

export interface Space {
  file: string;
  /** The model's parameters, sorted by key (the order samplers draw them in). */
  params: Param[];
}

export type { Params } from '../io/study.js';

export const KINDS = ['uniform', 'log_uniform', 'int', 'choice'] as const;

/**
 * Keys a study does not search: what the study itself sets for every trial (the model, the
 * monitored metric, the validation carve, the workers), and what changes what a trial learns from
 * rather than how (parents, frozen groups, replay).
 */
const FIXED: Record<string, string> = {
  'train.model': 'the study trains one model (--model)',
  'train.early_stopping.metric': 'every trial monitors the study\'s --metric',
  'train.valid_from_train': 'every trial is validated on the same split (--valid-from-train)',
  'train.workers': 'the study shares the cores among its trials (--parallel)',
  'train.init_from': 'parents are not a hyper-parameter',
  'train.freeze': 'frozen groups are not a hyper-parameter',
  'train.replay': 'replay needs --init-from, which a study does not take',
  'train.save_every': 'saving changes nothing a trial learns',
  'train.valid_users': 'every trial is validated on the same users',
  'train.features': 'set it in --config for every trial',
};

export async function loadSpace(file: string, model: ModelName): Promise<Space> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw new UsageError(`Cannot read --space ${file}: ${(error as NodeJS.ErrnoException).code ?? String(error)}. Expected a YAML file of parameters (docs/tuning.md).`);
  }
  return parseSpace(text, file, model);
}

/** Parses and validates a space file's text for `model`; other models' sections are validated for their own model. */
export function parseSpace(text: string, file: string, model: ModelName): Space {
  const lines = new LineCounter();
  const doc = parseDocument(text, { uniqueKeys: true, lineCounter: lines });
  if (doc.errors.length > 0) {
    const first = doc.errors[0];
    const where = first.linePos ? `${file}:${first.linePos[0].line}` : file;
    throw new UsageError(`Invalid YAML in --space ${where}: ${first.message.split('\n')[0]}`);
  }
  const root = doc.contents;
  if (!isMap(root) || root.items.length === 0) {
    throw new UsageError(`--space ${file} must map config keys to distributions, e.g. "train.lr: {log_uniform: [0.0005, 0.05]}". Received: ${root === null ? 'an empty file' : 'no mapping'}.`);
  }
  const lineOf = (node: Node | null | undefined): number => (node?.range ? lines.linePos(node.range[0]).line : 0);
  const common: Param[] = [];
  const sections = new Map<ModelName, Param[]>();
  for (const pair of root.items as Pair<Node, Node>[]) {
    const name = keyName(pair, file, lineOf);
    if ((MODELS as readonly string[]).includes(name) && isMap(pair.value) && !isDistribution(pair.value)) {
      const own: Param[] = [];
      collect(pair.value.items as Pair<Node, Node>[], '', file, lineOf, own);
      sections.set(name as ModelName, own);
    } else {
      collect([pair], '', file, lineOf, common);
    }
  }
  for (const [other, own] of sections) for (const p of own) checkParam(p, other, file);
  const params = [...common, ...(sections.get(model) ?? [])];
  const seen = new Map<string, number>();
  for (const p of params) {
    const before = seen.get(p.key);
    if (before !== undefined) throw new UsageError(`--space ${file}:${p.line}: ${p.key} is given twice (also at line ${before}). Expected each key once.`);
    seen.set(p.key, p.line);
    checkParam(p, model, file);
  }
  if (params.length === 0) throw new UsageError(`--space ${file} has no parameter for --model ${model}${sections.size > 0 ? ` (its sections are for ${[...sections.keys()].join(', ')})` : ''}. Expected at least one key such as train.lr.`);
  return { file, params: params.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0)) };
}

function keyName(pair: Pair<Node, Node>, file: string, lineOf: (n: Node | null | undefined) => number): string {
  if (!isScalar(pair.key) || typeof pair.key.value !== 'string') {
    throw new UsageError(`--space ${file}:${lineOf(pair.key)}: keys must be config keys such as train.lr. Received: ${describeValue(isScalar(pair.key) ? pair.key.value : pair.key)}.`);
  }
  return pair.key.value;
}

function isDistribution(node: Node): boolean {
  return isMap(node) && node.items.some((p) => isScalar(p.key) && (KINDS as readonly string[]).includes(String(p.key.value)));
}

/** Flattens nested sections (`train: {lr: …}`) into dotted keys, down to the distributions. */
function collect(pairs: Pair<Node, Node>[], prefix: string, file: string, lineOf: (n: Node | null | undefined) => number, out: Param[]): void {
  for (const pair of pairs) {
    const name = keyName(pair, file, lineOf);
    const key = prefix ? `${prefix}.${name}` : name;
    const line = lineOf(pair.key);
    const value = pair.value;
    if (isMap(value) && !isDistribution(value) && allKeyPaths().some((k) => k.startsWith(`${key}.`))) {
      collect(value.items as Pair<Node, Node>[], key, file, lineOf, out);
      continue;
    }
    checkKey(key, file, line);
    out.push(distribution(key, value, file, line));
  }
}

function checkKey(key: string, file: string, line: number): void {
  const at = `--space ${file}:${line}`;
  if (!allKeyPaths().includes(key)) {
    const hint = suggestKey(key);
    throw new UsageError(`${at}: unknown parameter ${key}.${hint ? ` Did you mean ${hint}?` : ''} Expected a training config key such as train.lr, train.l2 or model.dim (configs/schema.json), or a section named after a model.`);
  }
  if (Object.hasOwn(FIXED, key)) throw new UsageError(`${at}: ${key} is not searched: ${FIXED[key]}.`);
  if (!key.startsWith('train.') && !key.startsWith('model.')) {
    throw new UsageError(`${at}: ${key} is not a training parameter. Expected a train.* or model.* key; set ${key} in --config for every trial.`);
  }
}

function distribution(key: string, node: Node | null, file: string, line: number): Param {
  const at = `--space ${file}:${line}: ${key}`;
  if (!isMap(node)) throw new UsageError(`${at} needs a distribution, e.g. {log_uniform: [0.0005, 0.05]}, {uniform: [0, 0.5]}, {int: [16, 128]} or {choice: [adam, sgd]}. Received: ${describeValue(isScalar(node) ? node.value : node?.toJSON())}.`);
  const spec = node.toJSON() as Record<string, unknown>;
  const kinds = Object.keys(spec).filter((k) => (KINDS as readonly string[]).includes(k));
  const extra = Object.keys(spec).filter((k) => !(KINDS as readonly string[]).includes(k) && k !== 'log');
  if (kinds.length !== 1 || extra.length > 0) {
    const odd = extra[0] ?? kinds.join(' and ');
    const hint = extra[0] ? closestKind(extra[0]) : null;
    throw new UsageError(`${at}: ${odd ? `"${odd}" is not a distribution${hint ? ` (did you mean ${hint}?)` : ''}` : 'no distribution'}. Expected exactly one of ${KINDS.join(', ')} (int also takes log: true).`);
  }
  const kind = kinds[0] as Param['kind'];
  const raw = spec[kind];
  if ('log' in spec && kind !== 'int') throw new UsageError(`${at}: log: applies to int only; use log_uniform for a real-valued log scale.`);
  if (kind === 'choice') {
    if (!Array.isArray(raw) || raw.length < 2) throw new UsageError(`${at}: choice needs a list of at least two values. Received: ${describeValue(raw)}.`);
    for (const v of raw) if (!['string', 'number', 'boolean'].includes(typeof v)) throw new UsageError(`${at}: choice values must be numbers, strings or booleans. Received: ${describeValue(v)}.`);
    const values = raw as ChoiceValue[];
    if (new Set(values.map((v) => JSON.stringify(v))).size !== values.length) throw new UsageError(`${at}: choice lists a value twice: ${describeValue(values)}.`);
    return { key, line, kind, values };
  }
  if (!Array.isArray(raw) || raw.length !== 2 || !raw.every((v) => typeof v === 'number' && Number.isFinite(v))) {
    throw new UsageError(`${at}: ${kind} needs [low, high], two finite numbers. Received: ${describeValue(raw)}.`);
  }
  const [low, high] = raw as [number, number];
  if (!(low < high)) throw new UsageError(`${at}: the range [${low}, ${high}] is empty. Expected low < high (a fixed value belongs in --config).`);
  if (kind === 'log_uniform' && low <= 0) throw new UsageError(`${at}: log_uniform [${low}, ${high}] touches 0 or below; a log scale needs low > 0, e.g. [1e-5, ${high}].`);
  if (kind !== 'int') return { key, line, kind, low, high };
  if (!Number.isInteger(low) || !Number.isInteger(high)) throw new UsageError(`${at}: int needs integer bounds. Received: [${low}, ${high}].`);
  const log = spec.log === true;
  if (spec.log !== undefined && typeof spec.log !== 'boolean') throw new UsageError(`${at}: log must be true or false. Received: ${describeValue(spec.log)}.`);
  if (log && low <= 0) throw new UsageError(`${at}: int with log: true [${low}, ${high}] touches 0 or below; a log scale needs low >= 1.`);
  return { key, line, kind, low, high, log };
}

function closestKind(word: string): string | null {
  const norm = word.toLowerCase().replace(/[-\s]/g, '_');
  const alias: Record<string, string> = { loguniform: 'log_uniform', log: 'log_uniform', categorical: 'choice', choices: 'choice', integer: 'int', randint: 'int', range: 'uniform' };
  if ((KINDS as readonly string[]).includes(norm)) return norm;
  return alias[norm] ?? null;
}

/** Every value the schema must accept: the bounds and a point inside a range, each choice. */
function probes(p: Param): ChoiceValue[] {
  if (p.kind === 'choice') return p.values;
  if (p.kind === 'int') return [p.low, p.high];
  return [p.low, p.high, p.kind === 'log_uniform' ? Math.sqrt(p.low * p.high) : (p.low + p.high) / 2];
}

/** The key's values against the config schema, and the key against what `model` reads. */
function checkParam(p: Param, model: ModelName, file: string): void {
  const at = `--space ${file}:${p.line}`;
  for (const value of probes(p)) {
    const tree = Object.create(null) as Tree;
    setPath(tree, p.key, value);
    const parsed = configSchema.safeParse(tree);
    if (parsed.success) continue;
    const issue = parsed.error.issues[0];
    const hint = p.kind !== 'int' && p.kind !== 'choice' && /int/i.test(issue.message) ? ' It takes integers: use {int: [low, high]}.' : '';
    throw new UsageError(`${at}: ${p.key} cannot be ${describeValue(value)}: ${issue.message}.${hint}`);
  }
  const sources = { [p.key]: `space:${file}` };
  const f = family(model);
  try {
    checkFamilyOptions(f, sources, (option) => MODELS.filter((m) => m !== model && modelReads(m, option)));
    if (f.kind === 'fitted') checkFittedOptions(f, sources, 1);
  } catch (error) {
    if (error instanceof UsageError) throw new UsageError(`${at}: ${error.message.replace(/ Remove it[^.]*\.$/, '')} Remove it from the space, or put it in a section for a model that reads it (docs/tuning.md).`);
    throw error;
  }
}

function modelReads(model: ModelName, option: string): boolean {
  try {
    return (family(model).options as readonly string[]).includes(option);
  } catch {
    // A planned model not built in this version reads nothing.
    return false;
  }
}
