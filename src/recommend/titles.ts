/**
 * Display titles in `rec recommend` and `rec search` output: the checkpoint's copy of the dataset's item_titles.arrow
 * (vocab/), when the catalogue had a text feature (docs/datasets.md). A checkpoint without it prints no title.
 */
import { paths } from '../io/checkpoint-contract.js';
import { readItemTitles } from '../data/item-titles.js';

/** Titles by item index; null when the checkpoint kept none. */
export function checkpointTitles(ckpt: string): Promise<(string | null)[] | null> {
  return readItemTitles(paths(ckpt).vocab);
}

/** Each ranked item with its title (null when it has none), looked up by raw id. */
export function withTitles<R extends { items: readonly { item: string }[] }>(record: R, titles: readonly (string | null)[], index: ReadonlyMap<string, number>): R {
  return { ...record, items: record.items.map((it) => ({ ...it, title: titles[index.get(it.item) ?? -1] ?? null })) };
}
