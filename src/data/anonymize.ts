/**
 * Keyed pseudonymisation of user ids (--anonymize, docs/datasets.md#anonymised-ids): HMAC-SHA256(key, raw id as UTF-8),
 * hex. `rec prep`, `rec eval` and `rec recommend` hash with the same key so new logs and lookups
 * land on the same ids. The key itself is never written anywhere; manifests record only
 * `keyFingerprint`, which identifies the key without revealing it.
 */
import { createHash, createHmac } from 'node:crypto';

export const ANONYMIZE_ALGORITHM = 'hmac-sha256';

export function anonymizeId(key: Uint8Array, rawId: string): string {
  return createHmac('sha256', key).update(rawId, 'utf8').digest('hex');
}

/** First 16 hex digits of SHA-256(key): enough to tell keys apart, useless for recovering one. */
export function keyFingerprint(key: Uint8Array): string {
  return createHash('sha256').update(key).digest('hex').slice(0, 16);
}
