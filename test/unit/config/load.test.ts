import { describe, expect, it } from 'vitest';
import { configToYaml, resolveLayers } from '../../../src/config/load';

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
