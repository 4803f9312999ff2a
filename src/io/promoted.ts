/**
 * Which folders are production (docs/nightly.md, "Promotion"). `rec promote` marks every checkpoint
 * it points a production link at with `promoted.json`, and no command that writes a folder or a
 * file (`rec train --out`, even with --force or --resume; `rec prep --out`; a file --out) may write
 * through a production link or into a promoted checkpoint: every reader of production would get
 * what no gate passed, and promotions.jsonl would not say so. Checkpoints promoted by a rec from
 * before the marker are found by the production link or promotions.jsonl of a folder above them
 * (the nightly layout: DIR/production and DIR/checkpoints/NIGHT). `rec eval` still writes its eval
 * files into a promoted checkpoint: they are the gate's record, not a model.
 */
import { lstat, readFile, realpath } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

export const PRODUCTION_LINK = 'production';
export const PROMOTION_HISTORY = 'promotions.jsonl';
export const PROMOTED_MARKER = 'promoted.json';

export interface Promoted {
  /** The promoted checkpoint (real path), or the production link's target as written. */
  checkpoint: string;
  /** What says it is production, in words that name the file or link. */
  evidence: string;
}

function code(error: unknown): string | undefined {
  return error instanceof Error && 'code' in error && typeof error.code === 'string' ? error.code : undefined;
}

async function exists(path: string): Promise<boolean> {
  try {
    await lstat(path);
    return true;
  } catch {
    return false;
  }
}

/** The real path of `path`, or of its nearest existing folder with the rest appended. */
async function realOrNearest(path: string): Promise<string> {
  try {
    return await realpath(path);
  } catch (error) {
    const parent = dirname(path);
    if (parent === path || (code(error) !== 'ENOENT' && code(error) !== 'ENOTDIR')) return path;
    return join(await realOrNearest(parent), basename(path));
  }
}

/** `path` itself is a production link: a link named `production`, or one beside a promotions.jsonl. */
async function productionLink(path: string): Promise<Promoted | null> {
  try {
    if (!(await lstat(path)).isSymbolicLink()) return null;
  } catch {
    return null;
  }
  if (basename(path) !== PRODUCTION_LINK && !(await exists(join(dirname(path), PROMOTION_HISTORY)))) return null;
  const target = await realpath(path).catch(() => path);
  return { checkpoint: target, evidence: `${path} is a production link (rec promote) to ${target}` };
}

/** Whether a folder above `ckpt` holds a production link to it or lists it in its promotions.jsonl. */
async function promotedAbove(ckpt: string): Promise<string | null> {
  for (let dir = dirname(ckpt); ; dir = dirname(dir)) {
    const link = join(dir, PRODUCTION_LINK);
    if ((await realpath(link).catch(() => null)) === ckpt) return `${link} points at it`;
    const history = join(dir, PROMOTION_HISTORY);
    const text = await readFile(history, 'utf8').catch(() => '');
    if (text.includes(JSON.stringify(ckpt))) return `${history} lists it`;
    if (dirname(dir) === dir) return null;
  }
}

async function promotionEvidence(ckpt: string): Promise<string | null> {
  if (await exists(join(ckpt, PROMOTED_MARKER))) return `${join(ckpt, PROMOTED_MARKER)} records its promotion`;
  return promotedAbove(ckpt);
}

/**
 * The promoted checkpoint that writing `path` would change: `path` is a production link, or is (or
 * lies inside) a checkpoint that is or was production. Null when it is none of these.
 */
export async function findPromoted(path: string): Promise<Promoted | null> {
  const link = await productionLink(path);
  if (link !== null) return link;
  for (let dir = await realOrNearest(path); ; dir = dirname(dir)) {
    if (await exists(join(dir, 'run.json'))) {
      const evidence = await promotionEvidence(dir);
      if (evidence !== null) return { checkpoint: dir, evidence };
    }
    if (dirname(dir) === dir) return null;
  }
}

/** The sentence that refuses a write into production, for `what` ("--out /x", "rec prep --out /x"). */
export function promotedRefusal(what: string, promoted: Promoted): string {
  return (
    `${what} would write into the promoted checkpoint ${promoted.checkpoint} (${promoted.evidence}). ` +
    'rec never writes a model or files through a production link or into a checkpoint that is or was production, not even with --force or --resume: ' +
    'readers of production would get a model no gate passed, and a rollback needs it intact. Nothing was written. ' +
    'Write to a new folder instead; to change production, train a new checkpoint, gate it (rec eval NEW --baseline DIR/production --max-drop ...) and rec promote it.'
  );
}
