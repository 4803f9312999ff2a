/**
 * configs/schema.json (README.md#configuration): the JSON Schema of a config file, generated from the zod
 * schema so that editors validate and complete YAML with the same rules `rec` applies. Input mode:
 * every key has a default, so none is required, and unknown keys are refused (strict objects).
 * `npm run build` writes it (scripts/schema.ts); test/unit/config/json-schema.test.ts checks that
 * the committed file is current.
 */
import { z } from 'zod';
import { configSchema } from './schema.js';

export const CONFIG_SCHEMA_FILE = 'configs/schema.json';

export function configJsonSchema(): Record<string, unknown> {
  // draft-07: the draft yaml-language-server (VS Code, Neovim, JetBrains) supports fully.
  const schema = z.toJSONSchema(configSchema, { io: 'input', target: 'draft-7' }) as Record<string, unknown>;
  return {
    ...schema,
    title: 'rec config file',
    description:
      'A config file for rec (--config FILE, repeatable; later files win). Flags and REC_* environment variables override it. Generated from src/config/schema.ts by npm run build; do not edit.',
  };
}
