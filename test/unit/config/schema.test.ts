import { describe, expect, it } from 'vitest';
import { BUILT_MODELS, MODELS, PLANNED_MODELS } from '../../../src/config/model-names.js';
import { configSchema } from '../../../src/config/schema.js';

describe('train.model', () => {
  it.each(BUILT_MODELS)('accepts the built model %s', (model) => {
    expect(configSchema.parse({ train: { model } }).train.model).toBe(model);
  });

  it('builds every model of the contract: none is left planned', () => {
    expect(PLANNED_MODELS).toEqual([]);
    expect([...MODELS].sort()).toEqual([...BUILT_MODELS].sort());
    expect(BUILT_MODELS).toContain('sasrec');
  });

  it('refuses an unknown model with the list of built ones', () => {
    const r = configSchema.safeParse({ train: { model: 'bert4rec' } });
    expect(r.error?.issues[0].message).toBe('expected one of mf|gmf|mlp|neumf|sasrec');
  });
});
