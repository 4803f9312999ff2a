/**
 * `1 epoch`, `2 epochs`, `0 users`: a count with its noun in the number English wants. Messages
 * built as `${n} epochs` said "1 epochs" whenever a run, a patience or a query was one.
 */
export function plural(count: number, singular: string, pluralForm = `${singular}s`): string {
  return `${count} ${count === 1 ? singular : pluralForm}`;
}
