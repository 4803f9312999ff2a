import { describe, expect, it } from 'vitest';
import { progressPayload } from '../../../src/cli/progress.js';

describe('progressPayload', () => {
  it('shows examples/s (steps/s × examples per step) and the ETA', () => {
    expect(progressPayload({ perSecond: 50, etaSeconds: 65 }, { rate: { unit: 'ex', scale: 4096 } })).toEqual({ speed: ' | 205k ex/s', remaining: ' | ETA 1m05s' });
  });

  it('shows the ETA alone when no rate unit was asked for, and nothing before there is a rate', () => {
    expect(progressPayload({ perSecond: 1e6, etaSeconds: 3 }, {})).toEqual({ speed: '', remaining: ' | ETA 3s' });
    expect(progressPayload({ perSecond: null, etaSeconds: null }, { rate: { unit: 'ex', scale: 1 } })).toEqual({ speed: '', remaining: '' });
  });
});
