import type * as TF from '@tensorflow/tfjs';
import { tf } from '../../../src/engine/tf.js';
import { describe, expect, it } from 'vitest';
import { initEngine } from '../../../src/engine/backend.js';
import { bceWithLogits } from '../../../src/train/pair-step.js';
import { silentLogger } from '../../../src/util/log.js';
import { floats, maxAbsDiff } from '../engine/helpers.js';

describe('bceWithLogits', () => {
  for (const engine of ['cpu', 'wasm'] as const) {
    it(`${engine}: value and gradient equal tf.losses.sigmoidCrossEntropy's, also for large logits`, async () => {
      await initEngine({ backend: engine, log: silentLogger });
      const x = Float32Array.from(floats(300, 3), (v) => v * 8);
      x.set([-120, -40, 0, 40, 120], 0);
      const y = Float32Array.from(floats(300, 4), (v) => (v > 0 ? 1 : 0));
      const run = (loss: (logits: TF.Tensor, labels: TF.Tensor) => TF.Scalar) =>
        tf.tidy(() => {
          const labels = tf.tensor1d(y);
          const { value, grad } = tf.valueAndGrad((logits: TF.Tensor) => loss(logits, labels))(tf.tensor1d(x));
          return { value: value.dataSync()[0], grad: Float32Array.from(grad.dataSync()) };
        });
      const ours = run((logits, labels) => bceWithLogits(logits, labels) as TF.Scalar);
      const reference = run((logits, labels) => tf.losses.sigmoidCrossEntropy(labels, logits) as TF.Scalar);
      expect(Number.isFinite(ours.value)).toBe(true);
      expect(ours.value).toBeCloseTo(reference.value, 5);
      expect(maxAbsDiff(ours.grad, reference.grad)).toBeLessThan(1e-7);
      // Hand check of one element: d/dx mean(bce) = (σ(x) − y)/n.
      expect(ours.grad[5]).toBeCloseTo((1 / (1 + Math.exp(-x[5])) - y[5]) / 300, 8);
    });
  }
});
