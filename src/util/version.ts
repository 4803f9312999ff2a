import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

function findPackageJson(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    const candidate = resolve(dir, 'package.json');
    try {
      const pkg = JSON.parse(readFileSync(candidate, 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'rec' && pkg.version) return pkg.version;
    } catch {
      // keep walking up: dist/src/util and src/util sit at different depths
    }
    dir = dirname(dir);
  }
  return '0.0.0';
}

/** `rec`'s own version, recorded in manifests, run.json and eval files. */
export const REC_VERSION = findPackageJson();
