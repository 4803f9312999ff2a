import { describe, expect, it } from 'vitest';
import { parseSpace } from '../../../src/tune/space.js';
import { UsageError } from '../../../src/util/errors.js';

const refusal = (text: string, model: Parameters<typeof parseSpace>[2] = 'mf'): string => {
  try {
    parseSpace(text, 'space.yaml', model);
  } catch (error) {
    expect(error).toBeInstanceOf(UsageError);
    return (error as Error).message;
  }
  throw new Error('expected a refusal');
};

describe('parseSpace', () => {
  it('reads the four kinds, dotted or nested keys, sorted by key', () => {
    const space = parseSpace(
      ['train.lr: {log_uniform: [0.0005, 0.05]}', 'train:', '  l2: {uniform: [0, 0.5]}', 'model.dim: {int: [8, 128], log: true}', 'train.lr_schedule: {choice: [constant, cosine]}'].join('\n'),
      'space.yaml',
      'mf',
    );
    expect(space.params.map((p) => p.key)).toEqual(['model.dim', 'train.l2', 'train.lr', 'train.lr_schedule']);
    expect(space.params[0]).toMatchObject({ kind: 'int', low: 8, high: 128, log: true, line: 4 });
    expect(space.params[1]).toMatchObject({ kind: 'uniform', low: 0, high: 0.5, line: 3 });
    expect(space.params[3]).toMatchObject({ kind: 'choice', values: ['constant', 'cosine'] });
  });

  it('takes a model section only for that model, and still checks the others against their own model', () => {
    const text = 'train.lr: {log_uniform: [0.001, 0.01]}\nneumf:\n  model.alpha: {uniform: [0.2, 0.8]}\n';
    expect(parseSpace(text, 's.yaml', 'mf').params.map((p) => p.key)).toEqual(['train.lr']);
    expect(parseSpace(text, 's.yaml', 'neumf').params.map((p) => p.key)).toEqual(['model.alpha', 'train.lr']);
    expect(refusal('train.lr: {log_uniform: [0.001, 0.01]}\nmf:\n  model.heads: {int: [1, 4]}\n', 'neumf')).toMatch(/space\.yaml:3: model\.heads .*does not apply to --model mf/);
  });

  it('refuses an unknown key with "did you mean", naming file and line', () => {
    expect(refusal('train.lr: {log_uniform: [0.001, 0.01]}\ntrain.learning_rate: {uniform: [0, 1]}')).toMatch(/space\.yaml:2: unknown parameter train\.learning_rate\. Did you mean train\.lr\?/);
  });

  it('refuses an empty range, a log range touching 0, a bad kind and an int key given a real range', () => {
    expect(refusal('train.lr: {uniform: [0.01, 0.01]}')).toMatch(/space\.yaml:1: train\.lr: the range \[0\.01, 0\.01\] is empty/);
    expect(refusal('train.l2: {log_uniform: [0, 1]}')).toMatch(/log_uniform \[0, 1\] touches 0/);
    expect(refusal('train.lr: {loguniform: [0.001, 0.1]}')).toMatch(/"loguniform" is not a distribution \(did you mean log_uniform\?\)/);
    expect(refusal('model.dim: {uniform: [8, 65]}')).toMatch(/model\.dim cannot be 36\.5.*use \{int: \[low, high\]\}/);
    expect(refusal('train.optimizer: {choice: [adam]}')).toMatch(/at least two values/);
    expect(refusal('train.optimizer: {choice: [adam, nesterov]}')).toMatch(/train\.optimizer cannot be "nesterov"/);
  });

  it('refuses a key the model does not read, and keys a study sets itself', () => {
    expect(refusal('model.heads: {int: [1, 4]}')).toMatch(/model\.heads .*does not apply to --model mf.*read by sasrec/);
    expect(refusal('train.lr: {log_uniform: [0.001, 0.1]}', 'ease')).toMatch(/train\.lr .*does not apply to --model ease/);
    expect(refusal('train.model: {choice: [mf, gmf]}')).toMatch(/train\.model is not searched/);
    expect(refusal('seed: {int: [1, 10]}')).toMatch(/seed is not a training parameter/);
  });

  it('refuses a file without parameters for the model, and a key given twice', () => {
    expect(refusal('neumf:\n  model.alpha: {uniform: [0, 1]}\n')).toMatch(/no parameter for --model mf \(its sections are for neumf\)/);
    expect(refusal('train.lr: {uniform: [0.001, 0.1]}\ntrain:\n  lr: {uniform: [0.001, 0.1]}\n')).toMatch(/train\.lr is given twice/);
  });
});
