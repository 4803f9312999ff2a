/**
 * TF.js for every module of `rec`: `import { tf } from '…/engine/tf.js'` for values, `import type * as
 * TF from '@tensorflow/tfjs'` for types.
 *
 * Loaded with `require`, not `import`: Node's ESM loader scans a CommonJS package's source for its
 * export names before it runs it, and TF.js is ~10 MB of CommonJS bundles re-exporting each other.
 * That scan cost every process (and every worker thread) that trains, evaluates or recommends about
 * 0.6 s of CPU here: `node -e` loading the umbrella took 0.81–0.91 s of user time through `import()`
 * and 0.25–0.28 s through `require`. Both paths share one module cache, so a test or a bench that
 * imports `@tensorflow/tfjs` gets this very instance and its one engine.
 */
import { createRequire } from 'node:module';
import type * as TF from '@tensorflow/tfjs';

export const tf = createRequire(import.meta.url)('@tensorflow/tfjs') as typeof TF;
