import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { envLayer } from '../../../src/cli/options.js';
import { expandHome, expandHomeInLayer, PATH_KEYS } from '../../../src/cli/paths.js';
import type { ConfigLayer } from '../../../src/config/load.js';
import { UsageError } from '../../../src/util/errors.js';

const HOME = '/home/ana';

describe('expandHome', () => {
  it('expands ~ and ~/x only', () => {
    expect(expandHome('~', HOME, '--out')).toBe(HOME);
    expect(expandHome('~/a/b', HOME, '--out')).toBe(join(HOME, 'a/b'));
    for (const v of ['~bob/x', 'a/~/b', './~', '/abs']) expect(expandHome(v, HOME, '--out')).toBe(v);
    expect(() => expandHome('~/x', '', '--out')).toThrow(UsageError);
  });
});

describe('expandHomeInLayer', () => {
  it('covers every path-valued config key of the option table', () => {
    expect([...PATH_KEYS].sort()).toEqual(['prep.anonymize_key_file', 'prep.items', 'prep.test', 'prep.valid', 'train.init_from']);
  });

  it('expands path values of a config file layer, lists included, leaving other values and the input alone', () => {
    const values = {
      prep: { test: '~/t.csv', valid: 'v.csv', anonymize_key_file: '~/key', split: '~/not-a-path' },
      train: { init_from: ['~/gmf', '/abs/mlp'], lr: 0.1 },
      eval: { protocol: 'candidates:~/c.tsv' },
    };
    const layer: ConfigLayer = { source: 'config:run.yaml', values };
    const out = expandHomeInLayer(layer, HOME);
    expect(out.values).toEqual({
      prep: { test: join(HOME, 't.csv'), valid: 'v.csv', anonymize_key_file: join(HOME, 'key'), split: '~/not-a-path' },
      train: { init_from: [join(HOME, 'gmf'), '/abs/mlp'], lr: 0.1 },
      eval: { protocol: `candidates:${join(HOME, 'c.tsv')}` },
    });
    expect(values.prep.test).toBe('~/t.csv');
    expect(out.source).toBe('config:run.yaml');
  });

  it('returns a layer without ~ paths unchanged', () => {
    const layer: ConfigLayer = { source: 'x', values: { eval: { protocol: 'sampled:100' }, prep: { test: 'rel/t.csv' }, train: { init_from: ['a'] } } };
    expect(expandHomeInLayer(layer, HOME)).toBe(layer);
  });

  it('expands REC_* path values and names the variable when HOME is unknown', () => {
    const env = envLayer({ REC_PREP_TEST: '~/t.csv', REC_EVAL_PROTOCOL: 'candidates:~' }, 'prep');
    expect(expandHomeInLayer(env, HOME).values).toEqual({ prep: { test: join(HOME, 't.csv') } });
    const evalEnv = envLayer({ REC_EVAL_PROTOCOL: 'candidates:~/c.tsv' }, 'eval');
    expect(expandHomeInLayer(evalEnv, HOME).values).toEqual({ eval: { protocol: `candidates:${join(HOME, 'c.tsv')}` } });
    expect(() => expandHomeInLayer(evalEnv, '')).toThrow(/eval\.protocol \(from env:REC_EVAL_PROTOCOL\) ~\/c\.tsv: no home folder/);
  });
});
