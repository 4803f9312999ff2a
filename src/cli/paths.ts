/**
 * Path arguments as a shell user means them. A quoted `'~/x'` or `--out=~/x` reaches us
 * unexpanded, and resolving it literally made a folder named `~` in the working directory, so a
 * leading `~` or `~/` is expanded to the home folder here, once, for every flag and argument that
 * names a file or folder — before any command resolves it against the working directory.
 */
import type { Command } from 'commander';
import { join } from 'node:path';
import { UsageError } from '../util/errors.js';

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
