import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { UsageError } from '../util/errors.js';

/**
 * The anonymisation key comes from --anonymize-key-file or REC_ANON_KEY and is never written
 * anywhere (docs/datasets.md#anonymised-ids); only the CLI reads the environment, so it is resolved here.
 */
export async function resolveAnonKey(file: string | null, cwd: string, env: NodeJS.ProcessEnv): Promise<Buffer> {
  if (file) {
    const path = resolve(cwd, file);
    let key: Buffer;
    try {
      key = await readFile(path);
    } catch (error) {
      throw new UsageError(`Cannot read --anonymize-key-file ${path}: ${(error as NodeJS.ErrnoException).code ?? String(error)}.`);
    }
    const trimmed = Buffer.from(key.toString('utf8').trim(), 'utf8');
    if (trimmed.length === 0) throw new UsageError(`--anonymize-key-file ${path} is empty. Expected a secret key (at least 16 characters).`);
    return trimmed;
  }
  const fromEnv = env.REC_ANON_KEY;
  if (fromEnv && fromEnv.length > 0) return Buffer.from(fromEnv, 'utf8');
  throw new UsageError('--anonymize needs a key: pass --anonymize-key-file FILE or set REC_ANON_KEY.');
}
