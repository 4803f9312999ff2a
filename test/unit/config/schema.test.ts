import { describe, expect, it } from 'vitest';
import { BUILT_MODELS, MODELS } from '../../../src/config/model-names.js';
import { resolveConfig } from '../../../src/config/load.js';
import { configSchema } from '../../../src/config/schema.js';

describe('train.model', () => {
  it.each(BUILT_MODELS)('accepts the built model %s', (model) => {
    expect(configSchema.parse({ train: { model } }).train.model).toBe(model);
  });

  it.each(MODELS)('resolves the contract model %s over its own configs/models file: none is left planned', async (model) => {
    const resolved = await resolveConfig({ files: [], env: null, flags: { source: 'flag:--model', values: { train: { model } } } });
    expect(resolved.config.train.model).toBe(model);
    expect(resolved.sources['train.model']).toBe('flag:--model');
    expect(Object.values(resolved.sources)).toContain(`configs/models/${model}.yaml`);
  });

  it('refuses an unknown model with the list of built ones', () => {
    const r = configSchema.safeParse({ train: { model: 'bert4rec' } });
    expect(r.error?.issues[0].message).toBe('expected one of mf|gmf|mlp|neumf|sasrec|pop|itemknn|ease|ials|bpmf|bm25|two-tower|hybrid');
  });
});
