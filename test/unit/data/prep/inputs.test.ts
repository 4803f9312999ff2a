import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { expandInputs, partitionValues } from '../../../../src/data/prep/inputs.js';
import { UsageError } from '../../../../src/util/errors.js';

function tree(files: string[]): string {
  const root = mkdtempSync(join(tmpdir(), 'rec-inputs-'));
  for (const f of files) {
    mkdirSync(join(root, f, '..'), { recursive: true });
    writeFileSync(join(root, f), '');
  }
  return root;
}

describe('expandInputs', () => {
  const root = tree([
    'events/dt=2024-06-02/part-1.parquet',
    'events/dt=2024-06-02/part-0.parquet',
    'events/dt=2024-06-01/part-0.snappy.parquet',
    'events/dt=2024-06-01/_SUCCESS',
    'events/dt=2024-06-01/.part-0.parquet.crc',
    'events/_temporary/0/part-9.parquet',
    'events/README',
    'logs/a.csv.gz',
    'logs/b.jsonl',
  ]);
  const rel = (paths: string[]): string[] => paths.map((p) => p.slice(root.length + 1));

  it('walks a folder recursively in path order, skipping _ and . names and, without --format, files without a data extension', async () => {
    expect(rel(await expandInputs([join(root, 'events')], 'auto'))).toEqual([
      'events/dt=2024-06-01/part-0.snappy.parquet',
      'events/dt=2024-06-02/part-0.parquet',
      'events/dt=2024-06-02/part-1.parquet',
    ]);
    expect(rel(await expandInputs([join(root, 'events')], 'parquet'))).toContain('events/README');
  });

  it('expands globs (* within a name, ** across folders, [..] classes); a file named twice is read once', async () => {
    expect(rel(await expandInputs([join(root, 'events/dt=2024-06-0[2]/*.parquet')], 'auto'))).toEqual(['events/dt=2024-06-02/part-0.parquet', 'events/dt=2024-06-02/part-1.parquet']);
    expect(rel(await expandInputs([join(root, '**/*.parquet')], 'auto'))).toEqual([
      'events/dt=2024-06-01/part-0.snappy.parquet',
      'events/dt=2024-06-02/part-0.parquet',
      'events/dt=2024-06-02/part-1.parquet',
    ]);
    const twice = await expandInputs([join(root, 'logs'), join(root, 'logs/b.jsonl')], 'auto');
    expect(rel(twice)).toEqual(['logs/a.csv.gz', 'logs/b.jsonl']);
  });

  it('a glob matching nothing, or a folder without data files, is exit 2; a plain missing path is left to the reader', async () => {
    await expect(expandInputs([join(root, 'events/dt=2025-*')], 'auto')).rejects.toThrow(UsageError);
    await expect(expandInputs([join(root, 'events/_temporary/..', 'dt=2024-06-01', '_SUCCESS', '..', 'nothing-*')], 'auto')).rejects.toThrow(/no path matches/);
    expect(await expandInputs([join(root, 'missing.csv')], 'auto')).toEqual([join(root, 'missing.csv')]);
  });
});

describe('partitionValues', () => {
  it('reads key=value folders, %-decoded, the deepest winning', () => {
    expect(Object.fromEntries(partitionValues('/w/events/region=eu%2Fwest/dt=2024-06-01/part-0.parquet'))).toEqual({ region: 'eu/west', dt: '2024-06-01' });
    expect(Object.fromEntries(partitionValues('/w/dt=1/x/dt=2/part.parquet'))).toEqual({ dt: '2' });
    expect(partitionValues('/w/events/part=0.parquet').size).toBe(0);
  });
});
