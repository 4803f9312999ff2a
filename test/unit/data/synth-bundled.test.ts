import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';
import { runSynth } from '../../../src/data/synth.js';
import { silentLogger } from '../../../src/util/log.js';
import { noProgress } from '../../../src/util/progress.js';

const bundled = resolve(dirname(fileURLToPath(import.meta.url)), '../../../datasets/shop/events.csv');

// The command in datasets/shop/README.md:
//   rec synth --out datasets/shop/events.csv --users 1500 --items 600 --events 60000 --days 30 --seed 2020
it('regenerating datasets/shop/events.csv with its documented command reproduces it byte for byte', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'rec-shop-'));
  try {
    const out = join(dir, 'events.csv');
    const result = await runSynth(
      { out, users: 1500, items: 600, events: 60000, days: 30, seed: 2020 },
      { log: silentLogger, progress: noProgress },
    );
    expect(result.rows).toBe(60000);
    const [fresh, committed] = await Promise.all([readFile(out), readFile(bundled)]);
    // If this fails after a deliberate generator change, regenerate the file with the command above.
    expect(fresh.equals(committed)).toBe(true);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
