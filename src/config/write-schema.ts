/**
 * Build step (`npm run build`, after tsc): writes configs/schema.json from the zod config schema.
 *
 *   node dist/src/config/write-schema.js [--check]     --check: exit 1 if the file is not current, write nothing
 */
import { readFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CONFIG_SCHEMA_FILE, configJsonSchema } from './json-schema.js';
import { stableJson, writeFileAtomic } from '../io/atomic.js';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const file = join(repo, CONFIG_SCHEMA_FILE);

async function main(): Promise<void> {
  const text = stableJson(configJsonSchema());
  const current = await readFile(file, 'utf8').catch(() => null);
  if (process.argv.includes('--check')) {
    if (current !== text) {
      process.stderr.write(`${CONFIG_SCHEMA_FILE} is out of date with src/config/schema.ts: run npm run build and commit it.\n`);
      process.exitCode = 1;
    }
    return;
  }
  if (current !== text) await writeFileAtomic(file, text);
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exitCode = 1;
});
