import { describe, expect, it } from 'vitest';
import { BUILT_MODELS, MODELS, PLANNED_MODELS } from '../../../src/config/model-names.js';
import { configSchema } from '../../../src/config/schema.js';

describe('train.model', () => {
  it.each(BUILT_MODELS)('accepts the built model %s', (model) => {
    expect(configSchema.parse({ train: { model } }).train.model).toBe(model);
  });

  it('refuses a planned model, saying it is not built and which are', () => {
    expect(PLANNED_MODELS).toContain('sasrec');
    expect(MODELS).toContain('sasrec');
    const r = configSchema.safeParse({ train: { model: 'sasrec' } });
    expect(r.success).toBe(false);
    expect(r.error?.issues[0].message).toBe('sasrec is not built in this version of rec; expected one of mf|gmf|mlp|neumf');
  });

  it('refuses an unknown model with the list of built ones', () => {
    const r = configSchema.safeParse({ train: { model: 'bert4rec' } });
    expect(r.error?.issues[0].message).toBe('expected one of mf|gmf|mlp|neumf');
  });
});
