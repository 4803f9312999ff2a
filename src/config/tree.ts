/**
 * The plain-object tree a config layer is made of, without zod or yaml: the CLI builds its flag
 * and environment layers with these at start-up, before it knows whether a command will run at
 * all (`rec --help` must not pay for the schema).
 */
export type Tree = { [key: string]: unknown };

export function isTree(value: unknown): value is Tree {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Sets `a.b.c` in a tree, creating the objects on the way. */
export function setPath(tree: Tree, path: string, value: unknown): void {
  const parts = path.split('.');
  let node = tree;
  for (const part of parts.slice(0, -1)) {
    if (!isTree(node[part])) node[part] = {};
    node = node[part] as Tree;
  }
  node[parts[parts.length - 1]] = value;
}
