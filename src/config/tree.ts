/**
 * The plain-object tree a config layer is made of, without zod or yaml: the CLI builds its flag
 * and environment layers with these at start-up, before it knows whether a command will run at
 * all (`rec --help` must not pay for the schema).
 */
import { ConfigError } from '../util/errors.js';

export type Tree = { [key: string]: unknown };

export function isTree(value: unknown): value is Tree {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Keys that would reach Object.prototype through `obj[key] = …` or a merge (`__proto__:` in a
 * YAML file, a hand-edited run.json): refused wherever a layer comes from, before any merge.
 */
export const RESERVED_KEYS: ReadonlySet<string> = new Set(['__proto__', 'constructor', 'prototype']);

/** Sets `a.b.c` in a tree, creating null-prototype objects on the way; a reserved key is a ConfigError. */
export function setPath(tree: Tree, path: string, value: unknown): void {
  const parts = path.split('.');
  if (parts.some((part) => RESERVED_KEYS.has(part))) throw new ConfigError(`Config key ${path} is not allowed: it names a reserved property.`);
  let node = tree;
  for (const part of parts.slice(0, -1)) {
    if (!Object.hasOwn(node, part) || !isTree(node[part])) node[part] = Object.create(null) as Tree;
    node = node[part] as Tree;
  }
  node[parts[parts.length - 1]] = value;
}
