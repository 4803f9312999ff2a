import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { prepSchema } from '../../../src/config/schema.js';
import { runPrep } from '../../../src/data/prep/run.js';
import { trainingPositives } from '../../../src/train/run.js';
import { UsageError } from '../../../src/util/errors.js';
import { silentLogger } from '../../../src/util/log.js';
import { noProgress } from '../../../src/util/progress.js';
import { tempRoot, train } from './helpers.js';

const path = tempRoot('rec-positives-');

const ratings = {
  users: Int32Array.from([0, 0, 0, 1, 1, 2]),
  items: Int32Array.from([0, 1, 2, 0, 3, 1]),
  values: Float32Array.from([5, 2, 4, 1, 4, 2]),
  numUsers: 3,
  numItems: 4,
};
const explicit = { train: ratings, feedback: 'explicit' as const };

describe('trainingPositives', () => {
  it.each(['gmf', 'mlp', 'neumf', 'mf'])('%s with bce/bpr on explicit ratings: every rating is a positive, and a note says so', (model) => {
    for (const loss of ['bce', 'bpr'] as const) {
      const p = trainingPositives(explicit, loss, model, null);
      expect(p.train).toBe(ratings);
      expect(p.notes).toHaveLength(1);
      expect(p.notes[0]).toMatch(new RegExp(`^model ${model} trains with loss ${loss} on explicit ratings: every rating counts as a positive.*--positive-threshold R`));
    }
  });

  it('no note for mse on ratings or for implicit feedback', () => {
    expect(trainingPositives(explicit, 'mse', 'mf', null).notes).toEqual([]);
    expect(trainingPositives({ ...explicit, feedback: 'implicit' }, 'bce', 'gmf', null).notes).toEqual([]);
  });

  it('a threshold keeps only the rows >= it as positives and counts users left without one', () => {
    const p = trainingPositives(explicit, 'bce', 'gmf', 4, 'flag:--positive-threshold');
    expect(p.notes).toEqual([]);
    expect([...p.train.users]).toEqual([0, 0, 1]);
    expect([...p.train.items]).toEqual([0, 2, 3]);
    expect(p.summary).toBe('positives: 3 of 6 training rows have a value >= 4; the other 3 are neither positives nor sampled as negatives; users without a row >= 4: 1 (they keep their initial embeddings).');
  });

  it('sasrec on explicit ratings: a note says every rating enters the history; a threshold keeps only ratings >= it as the sequence', () => {
    for (const loss of ['ce', 'bce']) {
      const p = trainingPositives(explicit, loss, 'sasrec', null, undefined, 'sequence');
      expect(p.train).toBe(ratings);
      expect(p.notes).toEqual([expect.stringMatching(/^model sasrec trains on explicit ratings: every rated item enters the user's history.*--positive-threshold R/)]);
    }
    expect(trainingPositives({ ...explicit, feedback: 'implicit' }, 'ce', 'sasrec', null, undefined, 'sequence').notes).toEqual([]);
    const kept = trainingPositives(explicit, 'ce', 'sasrec', 4, 'flag:--positive-threshold', 'sequence');
    expect(kept.notes).toEqual([]);
    expect([...kept.train.items]).toEqual([0, 2, 3]);
    expect(kept.summary).toMatch(/^sequences: 3 of 6 training rows have a value >= 4 and form the users' histories.*users without a row >= 4: 1/);
  });

  it('a threshold with mse, or one that keeps nothing, is a usage error naming the key and its source', () => {
    const mse = () => trainingPositives(explicit, 'mse', 'mf', 4, 'flag:--positive-threshold');
    expect(mse).toThrow(UsageError);
    expect(mse).toThrow(/^train\.positive_threshold 4 \(from flag:--positive-threshold\) applies to losses bce and bpr.*loss mse fits every value/);
    expect(() => trainingPositives(explicit, 'bpr', 'mf', 6)).toThrow(/keeps none of the 6 training rows \(their values range from 1 to 5\)/);
  });
});

describe('runTrain on explicit ratings', () => {
  it('warns and records the note in run.json; with a threshold records it in the config instead', async () => {
    const log = path('ratings.csv');
    const rows: string[] = [];
    for (let u = 0; u < 12; u++) for (let i = 0; i < 6; i++) rows.push(`u${u},i${(u + i) % 9},${1 + ((u * 7 + i) % 5)}`);
    writeFileSync(log, `user,item,rating\n${rows.join('\n')}\n`);
    const ds = path('ds');
    await runPrep(
      { inputs: [log], out: ds, config: prepSchema.parse({ split: 'none', columns: 'user=user,item=item,rating=rating' }), seed: 2020, recVersion: 'test' },
      { log: silentLogger, progress: noProgress },
    );
    const plain = await train(ds, path('ck-plain'), 'gmf');
    expect(plain.logs.join('\n')).toMatch(/warning: model gmf trains with loss bce on explicit ratings/);
    const run = JSON.parse(readFileSync(join(plain.checkpoint, 'run.json'), 'utf8')) as { notes?: string[] };
    expect(run.notes?.[0]).toMatch(/^model gmf trains with loss bce on explicit ratings/);

    const bin = await train(ds, path('ck-bin'), 'gmf', { train: { positive_threshold: 4 } });
    expect(bin.logs.join('\n')).not.toMatch(/warning/);
    expect(bin.logs.join('\n')).toMatch(/positives: \d+ of 72 training rows have a value >= 4/);
    const binRun = JSON.parse(readFileSync(join(bin.checkpoint, 'run.json'), 'utf8')) as { notes?: string[]; config: { train: { positive_threshold: number } } };
    expect(binRun.notes).toBeUndefined();
    expect(binRun.config.train.positive_threshold).toBe(4);
  }, 30_000);
});
