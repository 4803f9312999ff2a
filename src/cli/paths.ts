/**
 * Path arguments as a shell user means them. A quoted `'~/x'` or `--out=~/x` reaches us
 * unexpanded, and resolving it literally made a folder named `~` in the working directory, so a
 * leading `~` or `~/` is expanded to the home folder here, once, for every flag and argument that
 * names a file or folder — before any command resolves it against the working directory. The
 * same holds for path values that arrive through a config file or a REC_* variable (`prep.test`,
 * `train.init_from`, the FILE of `eval.protocol: candidates:FILE`, ...): no shell ever expands
 * those. A relative path stays relative to the working directory wherever it was written, as
 * the commands resolve config paths against it (not against the config file's folder).
 */
import type { Command } from 'commander';
import { join } from 'node:path';
import type { ConfigLayer } from '../config/load.js';
import { isTree, type Tree } from '../config/tree.js';
import { UsageError } from '../util/errors.js';
import { OPTIONS } from './options.js';

/** The value placeholders that mark a path in the option table and commands (`--out <dir>`, `<log...>`). */
const PATH_PLACEHOLDERS: ReadonlySet<string> = new Set(['dir', 'file', 'ckpt', 'log', 'dir|log']);

function placeholder(flags: string): string | null {
  const m = /[<[]([^>\]]+?)(?:\.\.\.)?[>\]]\s*$/.exec(flags);
  return m ? m[1] : null;
}

/** `~` → home, `~/x` → home/x; other values unchanged. `~user/x` is left alone (a name may start with ~). */
export function expandHome(value: string, home: string, what: string): string {
  if (value !== '~' && !value.startsWith('~/')) return value;
  if (!home) throw new UsageError(`${what} ${value}: no home folder is known to expand "~" (HOME is unset). Expected an absolute or relative path.`);
  return value === '~' ? home : join(home, value.slice(2));
}

function expandAll(value: unknown, home: string, what: string): unknown {
  if (typeof value === 'string') return expandHome(value, home, what);
  if (Array.isArray(value)) return value.map((v) => (typeof v === 'string' ? expandHome(v, home, what) : v));
  return value;
}

/** Expands `~` in the path-valued options and arguments of the command about to run (a preAction hook). */
export function expandHomeInPaths(cmd: Command, home: string): void {
  for (const option of cmd.options) {
    const name = placeholder(option.flags);
    if (name === null || !PATH_PLACEHOLDERS.has(name)) continue;
    const attr = option.attributeName();
    const value: unknown = cmd.getOptionValue(attr);
    const expanded = expandAll(value, home, option.long ?? option.flags);
    if (expanded !== value) cmd.setOptionValueWithSource(attr, expanded, cmd.getOptionValueSource(attr) ?? 'cli');
  }
  cmd.registeredArguments.forEach((arg, i) => {
    if (!PATH_PLACEHOLDERS.has(arg.name())) return;
    cmd.processedArgs[i] = expandAll(cmd.processedArgs[i], home, `<${arg.name()}>`);
  });
}

/** Config keys whose value is a path (or a list of paths): the option table's path-valued flags. */
export const PATH_KEYS: readonly string[] = OPTIONS.filter((o) => {
  const name = placeholder(o.flag);
  return name !== null && PATH_PLACEHOLDERS.has(name);
}).map((o) => o.key);

/** `eval.protocol`'s candidates FILE is a path inside a larger value. */
const PROTOCOL_KEY = 'eval.protocol';
const CANDIDATES = 'candidates:';

/**
 * A copy of a config layer (a file, the REC_* variables, the flags) with `~` expanded in its
 * path values; other values and layers without path values come back as they are.
 */
export function expandHomeInLayer(layer: ConfigLayer, home: string): ConfigLayer {
  let values = layer.values;
  const sourceOf = (key: string) => (typeof layer.source === 'string' ? layer.source : layer.source(key));
  const replace = (key: string, value: unknown) => {
    values = withPath(values, key, value);
  };
  for (const key of PATH_KEYS) {
    const value = getPath(values, key);
    const expanded = expandAll(value, home, `${key} (from ${sourceOf(key)})`);
    if (expanded !== value && !sameList(expanded, value)) replace(key, expanded);
  }
  const protocol = getPath(values, PROTOCOL_KEY);
  if (typeof protocol === 'string') {
    const text = protocol.trim();
    if (text.startsWith(CANDIDATES)) {
      const file = text.slice(CANDIDATES.length);
      const expanded = expandHome(file, home, `${PROTOCOL_KEY} (from ${sourceOf(PROTOCOL_KEY)})`);
      if (expanded !== file) replace(PROTOCOL_KEY, `${CANDIDATES}${expanded}`);
    }
  }
  return values === layer.values ? layer : { source: layer.source, values };
}

function getPath(tree: Tree, key: string): unknown {
  let node: unknown = tree;
  for (const part of key.split('.')) {
    if (!isTree(node) || !Object.hasOwn(node, part)) return undefined;
    node = node[part];
  }
  return node;
}

function sameList(a: unknown, b: unknown): boolean {
  return Array.isArray(a) && Array.isArray(b) && a.length === b.length && a.every((v, i) => v === b[i]);
}

/** `tree` with `key` set to `value`, copying only the objects on the way (the layer stays untouched). */
function withPath(tree: Tree, key: string, value: unknown): Tree {
  const [head, ...rest] = key.split('.');
  const child = tree[head];
  const copy: Tree = { ...tree };
  copy[head] = rest.length === 0 ? value : withPath(isTree(child) ? child : {}, rest.join('.'), value);
  return copy;
}
