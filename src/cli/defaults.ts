import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, here.includes('/dist/') ? '../../..' : '../..');

/** The bundled synthetic shop log that `rec train` with no arguments uses. */
export const BUNDLED_DATA = resolve(root, 'datasets/shop/events.csv');
