/**
 * The README.md of a checkpoint folder: what each file is, for whoever opens the folder months
 * later without rec's docs at hand (docs/design.md#the-checkpoint-folder). Written once, when `rec train` creates the
 * checkpoint; it is rec's own file there, like the others.
 */
import { join } from 'node:path';
import { writeFileAtomic } from './atomic.js';
import { CHECKPOINT_ENTRIES, EVAL_FILES_README } from './checkpoint-contract.js';

export const CHECKPOINT_README = CHECKPOINT_ENTRIES.readme.name;

/** The table of entries, from the contract's list, so a new entry cannot be left out of it. */
function readmeTable(): string {
  const rows = ['| entry | what it is |', '|---|---|'];
  for (const e of Object.values(CHECKPOINT_ENTRIES)) if (e.readme !== null) rows.push(`| \`${e.name}${e.dir ? '/' : ''}\` | ${e.readme} |`);
  rows.push(`| \`eval-<split>-<protocol>.json\` | ${EVAL_FILES_README} |`);
  return rows.join('\n');
}

export function checkpointReadme(model: string): string {
  return `# rec checkpoint (${model})

Written by \`rec train\`. Use it with \`rec eval DIR\`, \`rec recommend DIR\`, \`rec train --init-from DIR\`
(fine-tuning), or continue an interrupted run with \`rec train --out DIR --resume\`.

${readmeTable()}

Every file is written atomically (a temporary in this folder, then a rename); names containing
\`.tmp-\` are leftovers of an interrupted write and can be deleted.
`;
}

export async function writeCheckpointReadme(ckpt: string, model: string): Promise<void> {
  await writeFileAtomic(join(ckpt, CHECKPOINT_README), checkpointReadme(model));
}
