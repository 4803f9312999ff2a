import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CONFIG_SCHEMA_FILE, configJsonSchema } from '../../../src/config/json-schema.js';
import { loadConfigFile } from '../../../src/config/load.js';
import { stableJson } from '../../../src/io/atomic.js';

const REPO = resolve(__dirname, '../../..');

type Node = { properties?: Record<string, Node>; additionalProperties?: boolean; enum?: unknown[]; required?: string[]; default?: unknown; description?: string };

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
    expect(model?.enum).toEqual(['mf', 'gmf', 'mlp', 'neumf', 'sasrec', 'pop', 'itemknn', 'ease', 'ials', 'bpmf', 'bm25', 'two-tower', 'hybrid']);
    expect(model?.default).toBe('mf');
  });

  it('describes every key, so an editor shows hover help (yaml-language-server reads `description`)', () => {
    const missing: string[] = [];
    const walk = (node: Node, path: string) => {
      for (const [key, child] of Object.entries(node.properties ?? {})) {
        if (!child.description?.trim()) missing.push(`${path}${key}`);
        walk(child, `${path}${key}.`);
      }
    };
    walk(configJsonSchema() as Node, '');
    expect(missing).toEqual([]);
  });

  it('every shipped YAML in configs/ names the schema on its first line (relative to itself) and still loads', async () => {
    const dir = join(REPO, 'configs', 'models');
    const files = readdirSync(dir).filter((f) => f.endsWith('.yaml'));
    expect(files.length).toBeGreaterThan(0);
    for (const f of files) {
      const first = readFileSync(join(dir, f), 'utf8').split('\n')[0];
      const m = /^# yaml-language-server: \$schema=(\S+)$/.exec(first);
      expect(m, f).not.toBeNull();
      expect(resolve(dir, m?.[1] ?? ''), f).toBe(join(REPO, CONFIG_SCHEMA_FILE));
      await expect(loadConfigFile(join(dir, f))).resolves.toBeDefined();
    }
  });
});
