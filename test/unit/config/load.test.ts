import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { configToYaml, loadConfigFile, resolveConfig, resolveLayers } from '../../../src/config/load.js';
import { setPath } from '../../../src/config/tree.js';
import { ConfigError } from '../../../src/util/errors.js';

describe('resolveLayers', () => {
  it('applies layers in order and records each value source', () => {
    const r = resolveLayers([
      { source: 'configs/models/mf.yaml', values: { train: { lr: 0.005, epochs: 20 }, model: { dim: 64 } } },
      { source: 'config:a.yaml', values: { train: { lr: 0.01 } } },
      { source: (path) => `env:${path}`, values: { train: { epochs: 3 } } },
      { source: 'flag:--dim', values: { model: { dim: 16 } } },
    ]);
    expect(r.config.train.lr).toBe(0.01);
    expect(r.config.train.epochs).toBe(3);
    expect(r.config.model.dim).toBe(16);
    expect(r.sources['train.lr']).toBe('config:a.yaml');
    expect(r.sources['train.epochs']).toBe('env:train.epochs');
    expect(r.sources['model.dim']).toBe('flag:--dim');
    expect(r.sources['train.batch_size']).toBe('default');
    expect(Object.isFrozen(r.config.train)).toBe(true);
  });

  it('rejects an unknown key with its path, source and the closest valid key', () => {
    expect(() => resolveLayers([{ source: 'config:x.yaml', values: { train: { learning_rate: 0.1 } } }])).toThrow(
      /Unknown config key train\.learning_rate \(from config:x\.yaml\)\. Did you mean train\.lr\?/,
    );
    expect(() => resolveLayers([{ source: 'config:x.yaml', values: { trian: {} } }])).toThrow(/Did you mean train\?|Unknown config key trian/);
  });

  it('rejects a bad value naming key, received value and source', () => {
    expect(() => resolveLayers([{ source: 'flag:--lr', values: { train: { lr: -0.1 } } }])).toThrow(
      /Invalid value for train\.lr: .*Received: -0\.1 \(from flag:--lr\)/,
    );
    expect(() => resolveLayers([{ source: 'config:y.yaml', values: { train: { optimizer: 'adamm' } } }])).toThrow(/train\.optimizer/);
  });

  it('writes config.yaml with a source comment per value', () => {
    const r = resolveLayers([{ source: 'flag:--seed', values: { seed: 7 } }]);
    const yaml = configToYaml(r);
    expect(yaml).toMatch(/^seed: 7 {2}# flag:--seed$/m);
    expect(yaml).toMatch(/^ {2}batch_size: 4096 {2}# default$/m);
  });
});

describe('withFeedbackDefaults', () => {
  it('layers configs/models/<model>.<feedback>.yaml above the model defaults and below the user', async () => {
    const { resolveConfig, withFeedbackDefaults } = await import('../../../src/config/load.js');
    const flags = { source: 'flag:--epochs', values: { train: { epochs: 3 } } };
    const resolved = await resolveConfig({ files: [], env: null, flags });
    const explicit = await withFeedbackDefaults(resolved, 'explicit');
    expect(explicit.config.train.lr_schedule).toBe('cosine');
    expect(explicit.sources['train.lr_schedule']).toBe('configs/models/mf.explicit.yaml');
    expect(explicit.config.train.epochs).toBe(3);
    const implicit = await withFeedbackDefaults(resolved, 'implicit');
    expect(implicit.config.train.l2).toBe(0.01);
    expect(implicit.sources['train.l2']).toBe('configs/models/mf.implicit.yaml');
    expect(implicit.config.train.lr_schedule).toBe('constant');
    // A user's value wins over the feedback layer.
    const own = await resolveConfig({ files: [], env: null, flags: { source: 'flag:--l2', values: { train: { l2: 0.3 } } } });
    expect((await withFeedbackDefaults(own, 'implicit')).config.train.l2).toBe(0.3);
  });
});

/** Nine aliases per level, seven levels: 9^7 ≈ 4.8M nodes if expanded (the "billion laughs" shape). */
const ALIAS_BOMB = ['a: &a [x, x, x, x, x, x, x, x, x]']
  .concat(['b', 'c', 'd', 'e', 'f', 'g'].map((k, i) => `${k}: &${k} [${Array(9).fill(`*${'abcdefg'[i]}`).join(', ')}]`))
  .join('\n');

describe('hostile config files', () => {
  const dir = mkdtempSync(join(tmpdir(), 'rec-config-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const file = (name: string, text: string): string => {
    const path = join(dir, name);
    writeFileSync(path, text);
    return path;
  };

  it('an alias bomb is a ConfigError naming the file, not a hang', async () => {
    const path = file('bomb.yaml', ALIAS_BOMB);
    const error = await loadConfigFile(path).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigError);
    expect(String(error)).toMatch(/bomb\.yaml.*alias/i);
  });

  it('__proto__, constructor and prototype keys are refused by name and never reach Object.prototype', async () => {
    for (const [name, text, key] of [
      ['proto.yaml', '__proto__:\n  polluted: 1\n', '__proto__'],
      ['nested.yaml', 'train:\n  __proto__:\n    polluted: 1\n', 'train.__proto__'],
      ['ctor.yaml', 'train:\n  constructor:\n    prototype:\n      polluted: 1\n', 'train.constructor'],
      ['proto2.yaml', 'model:\n  prototype: 1\n', 'model.prototype'],
    ] as const) {
      const error = await resolveConfig({ files: [file(name, text)], env: null, flags: null }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ConfigError);
      expect(String(error)).toContain(`Config key ${key} (from config:`);
      expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    }
    // A layer from JSON (a checkpoint's run.json) carries __proto__ as an own key as well.
    const values = JSON.parse('{"__proto__": {"polluted": 1}, "train": {"lr": 0.1}}') as Record<string, unknown>;
    expect(() => resolveLayers([{ source: 'run.json', values }])).toThrow(/Config key __proto__ \(from run\.json\) is not allowed/);
    expect(() => setPath({}, '__proto__.polluted', 1)).toThrow(ConfigError);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('hex, octal, .inf, .nan and overflowing numbers are refused naming key and file:line:col', async () => {
    for (const [text, key, source, col] of [
      ['train:\n  lr: 0x10\n', 'train.lr', '0x10', 7],
      ['train:\n  epochs: 0o17\n', 'train.epochs', '0o17', 11],
      ['train:\n  lr: .inf\n', 'train.lr', '.inf', 7],
      ['model:\n  dropout: .NaN\n', 'model.dropout', '.NaN', 12],
      ['train:\n  l2: 1e999\n', 'train.l2', '1e999', 7],
      ['train:\n  lr: -1e39\n', 'train.lr', '-1e39', 7],
      ['model:\n  layers: [8, 0x4]\n', 'model.layers', '0x4', 15],
    ] as const) {
      const error = await loadConfigFile(file('num.yaml', text)).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ConfigError);
      expect(String(error)).toContain(`Invalid value for ${key} at ${join(dir, 'num.yaml')}:2:${col}: "${source}"`);
    }
    const ok = await loadConfigFile(file('ok.yaml', 'train:\n  lr: 5e-3\n  epochs: 3\n  l2: -0.0\nmodel:\n  layers: [16, 8]\n'));
    expect(ok.values).toEqual({ train: { lr: 0.005, epochs: 3, l2: -0 }, model: { layers: [16, 8] } });
  });

  it('reads LF, CRLF and CR-only config files alike, with or without a BOM', async () => {
    for (const eol of ['\n', '\r\n', '\r']) {
      const text = ['train:', '  lr: 0.1', '  freeze: [item_embedding]', ''].join(eol);
      for (const bom of ['', '\uFEFF']) {
        expect((await loadConfigFile(file('eol.yaml', bom + text))).values).toEqual({ train: { lr: 0.1, freeze: ['item_embedding'] } });
      }
    }
    const error = await loadConfigFile(file('eol.yaml', 'train:\r  lr: 0x1\r')).catch((e: unknown) => e);
    expect(String(error)).toContain('eol.yaml:2:7: "0x1"');
  });

  it('a config file that is not UTF-8 is refused naming file:line:col, not decoded to U+FFFD', async () => {
    const path = join(dir, 'latin1.yaml');
    writeFileSync(path, Buffer.concat([Buffer.from('train:\n  init_from: [caf'), Buffer.from([0xe9]), Buffer.from(']\n')]));
    const error = await loadConfigFile(path).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigError);
    expect(String(error)).toContain(`${path}:2:18: byte 0xe9 is not UTF-8`);
    writeFileSync(path, Buffer.concat([Buffer.from('seed: 1\rtrain:\r\n  lr: 0.1 # caf'), Buffer.from([0xe9]), Buffer.from('\r')]));
    expect(String(await loadConfigFile(path).catch((e: unknown) => e))).toContain(`${path}:3:16: byte 0xe9 is not UTF-8`);
  });
});
