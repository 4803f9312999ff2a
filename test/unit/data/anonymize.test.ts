import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { anonymizeId, keyFingerprint } from '../../../src/data/anonymize.js';

describe('anonymizeId', () => {
  it('is HMAC-SHA256 of the raw id under the key, as lowercase hex', () => {
    const key = Buffer.from('key');
    expect(anonymizeId(key, 'The quick brown fox jumps over the lazy dog')).toBe('f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8');
    expect(anonymizeId(key, 'u1')).toBe(createHmac('sha256', key).update('u1').digest('hex'));
    expect(anonymizeId(key, 'u1')).not.toBe(anonymizeId(Buffer.from('other'), 'u1'));
  });

  it('fingerprints a key without revealing it', () => {
    const fp = keyFingerprint(Buffer.from('secret'));
    expect(fp).toMatch(/^[0-9a-f]{16}$/);
    expect(fp).toBe('2bb80d537b1da3e3');
  });
});
