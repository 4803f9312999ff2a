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
import { parseDocument } from 'yaml';
import { z } from 'zod';
import { ConfigError, UsageError, describeValue } from '../util/errors.js';
import { type Config, configSchema, type ModelName, MODELS } from './schema.js';

export type Tree = { [key: string]: unknown };

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

export function isTree(value: unknown): value is Tree {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

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
    if (!isTree(node)) return undefined;
    node = node[part];
  }
  return node;
}

export function setPath(tree: Tree, path: string, value: unknown): void {
  const parts = path.split('.');
  let node = tree;
  for (const part of parts.slice(0, -1)) {
    if (!isTree(node[part])) node[part] = {};
    node = node[part] as Tree;
  }
  node[parts[parts.length - 1]] = value;
}

function mergeInto(target: Tree, source: Tree): void {
  for (const [key, value] of Object.entries(source)) {
    if (isTree(value) && isTree(target[key])) mergeInto(target[key] as Tree, value);
    else target[key] = isTree(value) ? structuredClone(value) : value;
  }
}

function layerSource(layer: ConfigLayer, path: string): string {
  return typeof layer.source === 'string' ? layer.source : layer.source(path);
}

/** Reads a YAML config file; syntax errors name file:line:col. */
export async function loadConfigFile(path: string, label = `config:${path}`): Promise<ConfigLayer> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new UsageError(`Cannot read config file ${path}: ${(error as NodeJS.ErrnoException).code ?? String(error)}. Expected a readable YAML file.`);
  }
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) {
    const first = doc.errors[0];
    const where = first.linePos ? `${path}:${first.linePos[0].line}:${first.linePos[0].col}` : path;
    throw new ConfigError(`Invalid YAML in ${where}: ${first.message.split('\n')[0]}`);
  }
  const values: unknown = doc.toJS() ?? {};
  if (!isTree(values)) {
    throw new ConfigError(`Config file ${path} must hold a mapping of keys (e.g. "train:"). Received: ${describeValue(values)}.`);
  }
  return { source: label, values };
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
  const merged: Tree = {};
  const sources: Record<string, string> = {};
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
}): Promise<ResolvedConfig> {
  const upper: ConfigLayer[] = [];
  for (const file of opts.files) upper.push(await loadConfigFile(file));
  if (opts.env) upper.push(opts.env);
  if (opts.flags) upper.push(opts.flags);
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

function suggestKey(full: string): string | null {
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
const RESUME_MUTABLE = new Set(['train.epochs', 'backend', 'log_level', 'progress', 'eval.user_block']);

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
