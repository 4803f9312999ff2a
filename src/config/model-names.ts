/**
 * Model names without zod, so the CLI's option table (loaded for `--help`) can list them.
 * `PLANNED_MODELS` are planned model families (docs/design.md#adding-a-model-family) but not built yet: the name stays a
 * `ModelName`, and `configs/models/<name>.yaml` may exist, but neither the schema nor `--help`
 * offers it, and choosing it is a config error that says so.
 */
export const BUILT_MODELS = ['mf', 'gmf', 'mlp', 'neumf', 'sasrec', 'pop', 'itemknn', 'ease', 'ials', 'bpmf', 'bm25', 'two-tower', 'hybrid'] as const;
/** Models that rank items for a query (a search log), not for a user: trained by src/train/search-run.ts. */
export const SEARCH_MODEL_NAMES = ['bm25', 'two-tower', 'hybrid'] as const;
export const PLANNED_MODELS = [] as const;
export const MODELS = [...BUILT_MODELS, ...PLANNED_MODELS] as const;

export type ModelName = (typeof MODELS)[number];
export type BuiltModelName = (typeof BUILT_MODELS)[number];

/** The schema's message for a model name that is not built: planned ones are named as such. */
export function unknownModelMessage(received: unknown): string {
  const expected = `expected one of ${BUILT_MODELS.join('|')}`;
  return (PLANNED_MODELS as readonly unknown[]).includes(received) ? `${String(received)} is not built in this version of rec; ${expected}` : expected;
}
