import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { addConfigOptions, envLayer, flagLayer } from '../../../src/cli/options.js';
import { UsageError } from '../../../src/util/errors.js';

function flags(args: string[]): Record<string, unknown> {
  const cmd = new Command('train').exitOverride();
  addConfigOptions(cmd, 'train');
  cmd.parse(args, { from: 'user' });
  return flagLayer(cmd, 'train').values;
}

function env(vars: Record<string, string>, command: 'train' | 'eval' | 'prep' = 'train'): Record<string, unknown> {
  return envLayer(vars, command).values;
}

describe('flag and REC_* values become numbers only when written as plain decimals', () => {
  it('reads plain decimals, integers and lists', () => {
    expect(flags(['--lr', '5e-3', '--epochs', '12', '--layers', '64, 32,16', '--alpha', '.5'])).toEqual({
      train: { lr: 0.005, epochs: 12 },
      model: { layers: [64, 32, 16], alpha: 0.5 },
    });
    expect(env({ REC_TRAIN_LR: ' 0.01 ', REC_SEED: '7' })).toEqual({ seed: 7, train: { lr: 0.01 } });
    expect(env({ REC_EVAL_K: '5,10' }, 'eval')).toEqual({ eval: { k: [5, 10] } });
    expect(env({ REC_PREP_MAX_REJECTS: '12' }, 'prep')).toEqual({ prep: { max_rejects: 12 } });
  });

  it('refuses hex, binary, octal, Infinity, overflow, empty and trailing garbage, naming flag, value and expectation', () => {
    const cases: [string[], string][] = [
      [['--lr', '0x10'], '--lr expects a finite decimal number such as 0.005 or 5e-3 (no hex, Infinity or NaN; within float32 range, |x| < 3.4e38). Received: "0x10".'],
      [['--lr', '1e999'], '--lr expects a finite decimal number'],
      [['--l2', '1e39'], '--l2 expects a finite decimal number such as 0.005 or 5e-3 (no hex, Infinity or NaN; within float32 range, |x| < 3.4e38). Received: "1e39".'],
      [['--lr', 'Infinity'], 'Received: "Infinity"'],
      [['--lr', ''], '--lr expects a finite decimal number such as 0.005 or 5e-3 (no hex, Infinity or NaN; within float32 range, |x| < 3.4e38). Received: "".'],
      [['--lr', '0.01x'], 'Received: "0.01x"'],
      [['--alpha', '0b1'], '--alpha expects a finite decimal number'],
      [['--epochs', '0o7'], '--epochs expects an integer (digits only, at most 9007199254740991). Received: "0o7".'],
      [['--epochs', '1e3'], '--epochs expects an integer'],
      [['--epochs', '99999999999999999999'], 'Received: "99999999999999999999"'],
      [['--seed', ''], '--seed expects an integer'],
      [['--layers', '64,0x20'], '--layers expects a comma-separated list of non-negative integers'],
      [['--layers', '64,,8'], 'Received: "64,,8"'],
      [['--layers', '99999999999999999999'], '--layers expects a comma-separated list'],
    ];
    for (const [args, message] of cases) {
      expect(() => flags(args)).toThrow(UsageError);
      expect(() => flags(args)).toThrow(message);
    }
  });

  it('names the environment variable in the error', () => {
    expect(() => env({ REC_TRAIN_LR: '0x10' })).toThrow('Environment variable REC_TRAIN_LR expects a finite decimal number');
    expect(() => env({ REC_TRAIN_EPOCHS: '1e999' })).toThrow('Environment variable REC_TRAIN_EPOCHS expects an integer');
    expect(() => env({ REC_EVAL_K: '5,Infinity' }, 'eval')).toThrow('Environment variable REC_EVAL_K expects a comma-separated list');
    expect(() => env({ REC_PREP_MAX_REJECTS: '99999999999999999999' }, 'prep')).toThrow('Environment variable REC_PREP_MAX_REJECTS expects a count');
    expect(() => env({ REC_PREP_MAX_REJECTS: '0x10' }, 'prep')).toThrow(UsageError);
  });
});

describe('string values are kept as given', () => {
  it('a space delimiter stays a space (flag and REC_* variable)', () => {
    const cmd = new Command('prep').exitOverride();
    addConfigOptions(cmd, 'prep');
    cmd.parse(['--delimiter', ' '], { from: 'user' });
    expect(flagLayer(cmd, 'prep').values).toEqual({ prep: { delimiter: ' ' } });
    expect(env({ REC_PREP_DELIMITER: '\t' }, 'prep')).toEqual({ prep: { delimiter: '\t' } });
  });
});
