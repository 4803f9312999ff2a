/**
 * Config layering: defaults (zod) < model defaults (configs/models/<model>.yaml) < config files
 * (`--config`, repeatable, later wins) < environment (REC_*) < flags. Every leaf value keeps the
 * name of the layer it came from, so `config.yaml` in a checkpoint and error messages can say
 * where a value was set.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Document, isPair, isScalar, LineCounter, parseDocument, visit } from 'yaml';
import { z } from 'zod';
import { ConfigError, UsageError, describeValue } from '../util/errors.js';
import { utf8ErrorOffset } from '../util/lines.js';
import { parseDecimal } from '../util/numbers.js';
import { type Config, configSchema, type ModelName, MODELS } from './schema.js';
import { isTree, RESERVED_KEYS, setPath, type Tree } from './tree.js';

export interface ConfigLayer {
  /** e.g. `default`, `configs/models/mf.yaml`, `config:run.yaml`, `env:REC_SEED`, `flag:--lr` (per key). */
  source: string | ((keyPath: string) => string);
  values: Tree;
}

export interface ResolvedConfig {
  config: Config;
  /** Dotted key path (`train.batch_size`) → where its value came from. */
  sources: Record<string, string>;
  /** The user's layers (files, env, flags), kept so defaults can be re-layered once the data is known. */
  upper?: readonly ConfigLayer[];
}

const here = dirname(fileURLToPath(import.meta.url));
/** configs/ ships beside dist/; the same relative hop works from src/ under vitest. */
export const CONFIGS_DIR = resolve(here, here.includes(`${join('dist', 'src')}`) ? '../../../configs' : '../../configs');

export function leafPaths(tree: Tree, prefix = ''): string[] {
  const out: string[] = [];
  for (const [key, value] of Object.entries(tree)) {
    const path = prefix ? `${prefix}.${key}` : key;
    if (isTree(value)) out.push(...leafPaths(value, path));
    else out.push(path);
  }
  return out;
}

export function getPath(tree: Tree, path: string): unknown {
  let node: unknown = tree;
  for (const part of path.split('.')) {
    if (!isTree(node) || !Object.hasOwn(node, part)) return undefined;
    node = node[part];
  }
  return node;
}

function assertNoReservedKeys(value: unknown, layer: ConfigLayer, prefix = ''): void {
  if (Array.isArray(value)) {
    value.forEach((item, i) => assertNoReservedKeys(item, layer, `${prefix}[${i}]`));
    return;
  }
  if (!isTree(value)) return;
  for (const key of Object.keys(value)) {
    const path = prefix ? `${prefix}.${key}` : key;
    if (RESERVED_KEYS.has(key)) {
      throw new ConfigError(
        `Config key ${path} (from ${layerSource(layer, path)}) is not allowed: ${[...RESERVED_KEYS].map((k) => `"${k}"`).join(', ')} are reserved names. Remove the key.`,
      );
    }
    assertNoReservedKeys(value[key], layer, path);
  }
}

/** A deep copy on null-prototype objects, so no key of a layer can reach Object.prototype. */
function cloneTree(tree: Tree): Tree {
  const out = Object.create(null) as Tree;
  for (const key of Object.keys(tree)) {
    const value = tree[key];
    out[key] = isTree(value) ? cloneTree(value) : Array.isArray(value) ? structuredClone(value) : value;
  }
  return out;
}

function mergeInto(target: Tree, source: Tree): void {
  for (const key of Object.keys(source)) {
    const value = source[key];
    const existing = Object.hasOwn(target, key) ? target[key] : undefined;
    if (isTree(value) && isTree(existing)) mergeInto(existing, value);
    else target[key] = isTree(value) ? cloneTree(value) : value;
  }
}

function layerSource(layer: ConfigLayer, path: string): string {
  return typeof layer.source === 'string' ? layer.source : layer.source(path);
}

const MAX_ALIAS_COUNT = 100;

/** Reads a YAML config file; syntax errors name file:line:col. */
export async function loadConfigFile(path: string, label = `config:${path}`): Promise<ConfigLayer> {
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (error) {
    throw new UsageError(`Cannot read config file ${path}: ${(error as NodeJS.ErrnoException).code ?? String(error)}. Expected a readable YAML file.`);
  }
  const text = decodeUtf8(bytes, path);
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true, lineCounter });
  if (doc.errors.length > 0) {
    const first = doc.errors[0];
    const where = first.linePos ? `${path}:${first.linePos[0].line}:${first.linePos[0].col}` : path;
    throw new ConfigError(`Invalid YAML in ${where}: ${first.message.split('\n')[0]}`);
  }
  assertPlainNumbers(doc, path, lineCounter);
  let values: unknown;
  try {
    // A config needs few aliases; the cap stops a "billion laughs" file from expanding exponentially.
    values = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT }) ?? {};
  } catch (error) {
    const detail = error instanceof Error ? error.message : String(error);
    throw new ConfigError(
      `Invalid YAML in ${path}: ${detail}. Expected a plain mapping of keys; YAML aliases (*name) may expand to at most ${MAX_ALIAS_COUNT} nodes.`,
      { cause: error },
    );
  }
  if (!isTree(values)) {
    throw new ConfigError(`Config file ${path} must hold a mapping of keys (e.g. "train:"). Received: ${describeValue(values)}.`);
  }
  return { source: label, values };
}

/**
 * A config file as text. Invalid UTF-8 would decode to U+FFFD and quietly change a path or an id
 * in a value, so it is refused, naming the line (YAML files are UTF-8: YAML 1.2 §5.2).
 */
function decodeUtf8(bytes: Buffer, path: string): string {
  const at = utf8ErrorOffset(bytes, 0, bytes.length);
  // YAML 1.2 §5.4 allows a lone CR as a line break (old Mac editors) but the parser does not: it
  // read `a:\r  b: 1` as one line. Line breaks inside scalars become LF anyway (§6.5), so this changes
  // no value and keeps line numbers.
  if (at < 0) return bytes.toString('utf8').replace(/\r(?!\n)/g, '\n');
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < at; i++) {
    // LF, CRLF (counted at its LF) and a lone CR each end a line.
    if (bytes[i] === 10 || (bytes[i] === 13 && bytes[i + 1] !== 10)) {
      line++;
      lineStart = i + 1;
    }
  }
  throw new ConfigError(
    `Invalid config file ${path}:${line}:${at - lineStart + 1}: byte 0x${bytes[at].toString(16).padStart(2, '0')} is not UTF-8. Expected a UTF-8 YAML file; re-save it as UTF-8.`,
  );
}

/**
 * YAML 1.2 reads `0x10`, `0o7`, `.inf`, `.nan` and `1e999` as numbers; in a config they are
 * typos or overflows (the schema would see 16 or Infinity, and a range check is no help for the
 * first). Only plain decimals finite as float32 become numbers; anything else is an error naming
 * file:line:col and the key, and says how to write a string instead.
 */
function assertPlainNumbers(doc: Document, path: string, lineCounter: LineCounter): void {
  visit(doc, {
    Scalar(_key, node, ancestors) {
      if (typeof node.value !== 'number' && typeof node.value !== 'bigint') return;
      const source = node.source ?? String(node.value);
      const value = parseDecimal(source);
      // Numbers end up in float32 tensors or are compared with float32 values (as for flags).
      if (Number.isFinite(Math.fround(value))) return;
      const keys = ancestors.filter(isPair).map((pair) => (isScalar(pair.key) ? String(pair.key.value) : '?'));
      const pos = node.range ? lineCounter.linePos(node.range[0]) : null;
      const where = pos ? `${path}:${pos.line}:${pos.col}` : path;
      const what = Number.isNaN(value) ? 'is not a plain decimal number' : 'is out of range';
      throw new ConfigError(
        `Invalid value for ${keys.join('.') || 'config'} at ${where}: ${describeValue(source)} ${what}. Expected a finite decimal such as 0.005, 5e-3 or 100 (no hex, octal, .inf or .nan; |x| < 3.4e38); quote it if a string is meant.`,
      );
    },
  });
}

export async function modelDefaultsLayer(model: ModelName): Promise<ConfigLayer> {
  const path = join(CONFIGS_DIR, 'models', `${model}.yaml`);
  return loadConfigFile(path, `configs/models/${model}.yaml`);
}

/** The model a set of layers selects, before model defaults are inserted beneath them. */
export function selectedModel(layers: ConfigLayer[]): ModelName {
  let model: unknown = 'mf';
  for (const layer of layers) {
    const value = getPath(layer.values, 'train.model');
    if (value !== undefined) model = value;
  }
  if (typeof model === 'string' && (MODELS as readonly string[]).includes(model)) return model as ModelName;
  return 'mf';
}

/** Merges layers (later wins), validates strictly, and records each leaf's source. */
export function resolveLayers(layers: ConfigLayer[]): ResolvedConfig {
  const merged = Object.create(null) as Tree;
  const sources: Record<string, string> = {};
  for (const layer of layers) assertNoReservedKeys(layer.values, layer);
  for (const layer of layers) {
    mergeInto(merged, layer.values);
    for (const path of leafPaths(layer.values)) sources[path] = layerSource(layer, path);
  }
  const parsed = configSchema.safeParse(merged);
  if (!parsed.success) throw configErrorFrom(parsed.error, merged, sources);
  const config = parsed.data;
  for (const path of leafPaths(config as unknown as Tree)) sources[path] ??= 'default';
  return { config: deepFreeze(config), sources };
}

export async function resolveConfig(opts: {
  files: string[];
  env: ConfigLayer | null;
  flags: ConfigLayer | null;
  /** Applied to each of the user's layers before merging (the CLI expands `~` in path values). */
  mapLayer?: (layer: ConfigLayer) => ConfigLayer;
}): Promise<ResolvedConfig> {
  const map = opts.mapLayer ?? ((layer: ConfigLayer) => layer);
  const upper: ConfigLayer[] = [];
  for (const file of opts.files) upper.push(map(await loadConfigFile(file)));
  if (opts.env) upper.push(map(opts.env));
  if (opts.flags) upper.push(map(opts.flags));
  const model = selectedModel(upper);
  const base = await modelDefaultsLayer(model);
  return { ...resolveLayers([base, ...upper]), upper };
}

/**
 * Adds `configs/models/<model>.<feedback>.yaml`, when it exists, just above the model defaults:
 * good hyper-parameters differ between ratings and implicit feedback (MF's L2 that suits rmse on
 * MovieLens all but stops it from ranking clicks), and the feedback kind is known only once the
 * dataset is. The user's own layers still win.
 */
export async function withFeedbackDefaults(resolved: ResolvedConfig, feedback: 'explicit' | 'implicit'): Promise<ResolvedConfig> {
  if (!resolved.upper) return resolved;
  const upper = [...resolved.upper];
  const model = selectedModel(upper);
  const path = join(CONFIGS_DIR, 'models', `${model}.${feedback}.yaml`);
  if (!existsSync(path)) return resolved;
  const layers = [await modelDefaultsLayer(model), await loadConfigFile(path, `configs/models/${model}.${feedback}.yaml`), ...upper];
  return { ...resolveLayers(layers), upper };
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}

function configErrorFrom(error: z.ZodError, merged: Tree, sources: Record<string, string>): ConfigError {
  const lines = error.issues.map((issue) => {
    const path = issue.path.map(String).join('.');
    if (issue.code === 'unrecognized_keys') {
      return issue.keys
        .map((key) => {
          const full = path ? `${path}.${key}` : key;
          const from = sources[full] ? ` (from ${sources[full]})` : '';
          const hint = suggestKey(full);
          return `Unknown config key ${full}${from}.${hint ? ` Did you mean ${hint}?` : ''} Expected one of: ${knownKeysAt(path).join(', ')}.`;
        })
        .join('\n');
    }
    const received = getPath(merged, path);
    const from = sources[path] ? ` (from ${sources[path]})` : '';
    return `Invalid value for ${path || 'config'}: ${issue.message}. Received: ${describeValue(received)}${from}.`;
  });
  return new ConfigError(lines.join('\n'));
}

function defaultTree(): Tree {
  return configSchema.parse({}) as unknown as Tree;
}

export function knownKeysAt(path: string): string[] {
  const node = path ? getPath(defaultTree(), path) : defaultTree();
  return isTree(node) ? Object.keys(node) : [];
}

export function allKeyPaths(): string[] {
  return leafPaths(defaultTree());
}

/** Names people bring from other tools, mapped to ours, so "Did you mean" finds them too. */
const ALIASES: Record<string, string> = {
  learning_rate: 'lr',
  batchsize: 'batch_size',
  embedding_dim: 'dim',
  embedding_size: 'dim',
  factors: 'dim',
  n_epochs: 'epochs',
  num_negatives: 'negatives',
  neg_samples: 'negatives',
  reg: 'l2',
  regularization: 'l2',
  topk: 'k',
};

export function suggestKey(full: string): string | null {
  const parts = full.split('.');
  const leaf = parts.pop() ?? full;
  const section = parts.join('.');
  let best: string | null = null;
  let bestDistance = Infinity;
  const consider = (name: string, target: string) => {
    const d = editDistance(leaf, name);
    if (d < bestDistance) {
      bestDistance = d;
      best = target;
    }
  };
  for (const candidate of allKeyPaths()) {
    const candidateLeaf = candidate.split('.').pop() ?? candidate;
    const sameSection = candidate.startsWith(section ? `${section}.` : '');
    if (sameSection) consider(candidateLeaf, candidate);
    for (const [alias, real] of Object.entries(ALIASES)) if (real === candidateLeaf && sameSection) consider(alias, candidate);
  }
  return bestDistance <= Math.max(2, Math.floor(leaf.length / 3)) ? best : null;
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let previous = row[0];
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const current = row[j];
      row[j] = Math.min(row[j] + 1, row[j - 1] + 1, previous + (a[i - 1] === b[j - 1] ? 0 : 1));
      previous = current;
    }
  }
  return row[b.length];
}

/** YAML for a checkpoint's config.yaml: each value followed by a comment naming its source. */
export function configToYaml(resolved: ResolvedConfig): string {
  const lines: string[] = ['# Resolved configuration of this run; each value is followed by its source.'];
  const walk = (tree: Tree, prefix: string, indent: string) => {
    for (const [key, value] of Object.entries(tree)) {
      const path = prefix ? `${prefix}.${key}` : key;
      if (isTree(value)) {
        lines.push(`${indent}${key}:`);
        walk(value, path, `${indent}  `);
      } else {
        lines.push(`${indent}${key}: ${JSON.stringify(value)}  # ${resolved.sources[path] ?? 'default'}`);
      }
    }
  };
  walk(resolved.config as unknown as Tree, '', '');
  return `${lines.join('\n')}\n`;
}

/** Keys `--resume` lets a flag change; every other hyper-parameter comes from the checkpoint. */
const RESUME_MUTABLE = new Set(['train.epochs', 'backend', 'log_level', 'progress', 'eval.user_block', 'eval.workers', 'train.workers']);

/**
 * The config of a resumed run: the checkpoint's own, with only --epochs (and engine/logging
 * choices) taken from this invocation. A flag or env value that conflicts is a usage error.
 */
export function resumeConfig(saved: { config: unknown; config_sources: Record<string, string> }, current: ResolvedConfig): ResolvedConfig {
  const base = resolveLayers([{ source: (path) => saved.config_sources[path] ?? 'default', values: saved.config as Tree }]);
  const overrides: Tree = {};
  const sources: Record<string, string> = { ...base.sources };
  for (const [path, source] of Object.entries(current.sources)) {
    if (!source.startsWith('flag:') && !source.startsWith('env:')) continue;
    const now = getPath(current.config as unknown as Tree, path);
    const before = getPath(base.config as unknown as Tree, path);
    if (RESUME_MUTABLE.has(path)) {
      setPath(overrides, path, now);
      sources[path] = source;
    } else if (JSON.stringify(now) !== JSON.stringify(before)) {
      throw new UsageError(
        `--resume continues the checkpoint's configuration; ${path} is ${describeValue(before)} there but ${describeValue(now)} from ${source}. Only --epochs may change on resume; start a new run (or use --init-from) to change hyper-parameters.`,
      );
    }
  }
  const merged = resolveLayers([
    { source: (path) => base.sources[path] ?? 'default', values: base.config as unknown as Tree },
    { source: (path) => sources[path] ?? 'flag', values: overrides },
  ]);
  return { config: merged.config, sources };
}
