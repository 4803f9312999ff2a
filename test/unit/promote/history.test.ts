import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { confirmIntent, readPromotions, settleInterrupted, writeIntent } from '../../../src/promote/history.js';
import { UsageError } from '../../../src/util/errors.js';

const line = (checkpoint: string, previous: string | null, status?: string) => JSON.stringify({ at: '2024-06-02T00:00:00.000Z', checkpoint, previous, forced: false, eval: null, ...(status ? { status } : {}) });

function folder(lines: string[]): string {
  const dir = mkdtempSync(join(tmpdir(), 'rec-history-'));
  writeFileSync(join(dir, 'promotions.jsonl'), `${lines.join('\n')}\n`);
  return dir;
}

describe('promotions.jsonl', () => {
  it('an intent is decided by the next line\'s previous, and the last one by where production points', async () => {
    const dir = folder([line('/a', null), line('/b', '/a', 'intent'), line('/c', '/b', 'intent'), line('/d', '/c', 'intent'), line('/e', '/c', 'abandoned')]);
    const switched = async (production: string) => (await readPromotions(dir, production)).map((p) => [p.checkpoint, p.switched]);
    expect(await switched('/c')).toEqual([['/a', true], ['/b', true], ['/c', true], ['/d', false], ['/e', false]]);
  });

  it('the last intent: switched only when production points at it; settled as done or abandoned', async () => {
    const dir = folder([line('/a', null, 'done'), line('/b', '/a', 'intent')]);
    expect((await readPromotions(dir, '/a')).map((p) => p.switched)).toEqual([true, false]);
    expect((await readPromotions(dir, '/b')).map((p) => p.switched)).toEqual([true, true]);
    expect(await settleInterrupted(dir, '/a')).toMatchObject({ checkpoint: '/b', status: 'abandoned', recovered: true });
    expect(await settleInterrupted(dir, '/a')).toBeNull();
    const other = folder([line('/a', null, 'done'), line('/b', '/a', 'intent')]);
    expect(await settleInterrupted(other, '/b')).toMatchObject({ status: 'done', recovered: true });
  });

  it('writeIntent then confirmIntent leaves one done line after the old ones, unparsable lines kept', async () => {
    const dir = folder([line('/a', null), 'not json']);
    const raw = await writeIntent(dir, { at: '2024-06-03T00:00:00.000Z', checkpoint: '/b', previous: '/a', forced: true, eval: null });
    expect(readFileSync(join(dir, 'promotions.jsonl'), 'utf8').trim().split('\n').at(-1)).toBe(raw);
    await confirmIntent(dir, raw);
    const lines = readFileSync(join(dir, 'promotions.jsonl'), 'utf8').trim().split('\n');
    expect(lines).toHaveLength(3);
    expect(lines[1]).toBe('not json');
    expect(JSON.parse(lines[2])).toMatchObject({ checkpoint: '/b', status: 'done' });
  });

  it('a promotions.jsonl that is a folder is a usage error naming it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rec-history-'));
    mkdirSync(join(dir, 'promotions.jsonl'));
    await expect(readPromotions(dir, null)).rejects.toThrow(UsageError);
    await expect(writeIntent(dir, { at: 'x', checkpoint: '/b', previous: null, forced: false, eval: null })).rejects.toThrow(/promotions\.jsonl is not the promotion history file .*folder/);
  });
});
