import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CONFIG_SCHEMA_FILE, configJsonSchema } from '../../../src/config/json-schema.js';
import { stableJson } from '../../../src/io/atomic.js';

const REPO = resolve(__dirname, '../../..');

type Node = { properties?: Record<string, Node>; additionalProperties?: boolean; enum?: unknown[]; required?: string[]; default?: unknown };

describe('configs/schema.json', () => {
  it('the committed file is what the generator produces from src/config/schema.ts now (npm run build regenerates it)', () => {
    const committed = readFileSync(join(REPO, CONFIG_SCHEMA_FILE), 'utf8');
    expect(committed).toBe(stableJson(configJsonSchema()));
  });

  it('refuses unknown keys at every level, as rec does, and requires none (every key has a default)', () => {
    const root = configJsonSchema() as Node;
    expect(root.additionalProperties).toBe(false);
    expect(root.required ?? []).toEqual([]);
    for (const section of ['prep', 'model', 'train', 'eval']) {
      const node = root.properties?.[section];
      expect(node?.additionalProperties, section).toBe(false);
      expect(node?.required ?? [], section).toEqual([]);
    }
    expect(root.properties?.train.properties?.early_stopping.additionalProperties).toBe(false);
    expect(Object.keys(root.properties?.train.properties ?? {})).toContain('batch_size');
  });

  it('offers only the models that are built, with their default', () => {
    const model = (configJsonSchema() as Node).properties?.train.properties?.model;
    expect(model?.enum).toEqual(['mf', 'gmf', 'mlp', 'neumf', 'sasrec']);
    expect(model?.default).toBe('mf');
  });
});
