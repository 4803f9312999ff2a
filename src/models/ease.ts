/**
 * EASE (Steck, "Embarrassingly Shallow Autoencoders for Sparse Data", WWW 2019): an item × item
 * weight matrix B that reconstructs each user's row of the binary user × item matrix X,
 *
 *   min_B ‖X − XB‖² + λ‖B‖²  subject to diag(B) = 0,   closed form  B = I − P·diag(1 / diag(P)),  P = (XᵀX + λI)⁻¹
 *
 * and score(u, ·) = x_u B (src/models/item-item.ts). λ is `train.l2`. Fitted in closed form by one
 * epoch (src/models/fit/ease.ts inverts the Gram matrix in blocks on the engine's matmul); the
 * dense n × n matrix is the cost: a catalogue whose inversion would not fit the engine's memory is
 * refused before anything is built (exit 2, with the bytes it would need). No user rows: a user is
 * their history, as for SASRec; --init-from does not apply (the closed form uses every row).
 */
import type * as TF from '@tensorflow/tfjs';
import { tf } from '../engine/tf.js';
import { refuseParents, resolveFittedLoss, type FitData, type FitTask, type FittedFamily } from './family.js';
import { easeBlocks, easePeakBytes, easeSweep, itemGram, type EaseSweep } from './fit/ease.js';
import { binaryUserRows, cachedValues, multiHot, scoreItemSets } from './item-item.js';
import type { HistoryModel, ModelBuildOptions } from './model.js';

export const EASE_LAYER = 'ease';
const WEIGHTS = 'item_item';

type Serializable = TF.serialization.ConfigDict;

/** The saved graph's one layer: padded history [n, width] → scores of every item [n, items]. */
export class EaseScores extends tf.layers.Layer {
  static className = 'EaseScores';
  readonly items: number;
  private weightsVar: TF.LayerVariable | null = null;

  constructor(args: { items: number; name?: string }) {
    super({ name: args.name ?? EASE_LAYER });
    this.items = args.items;
  }

  override build(): void {
    this.weightsVar = this.addWeight(WEIGHTS, [this.items, this.items], 'float32', tf.initializers.zeros());
    this.built = true;
  }

  variable(): TF.Variable {
    const v = this.weightsVar?.read();
    if (!(v instanceof tf.Variable)) throw new Error(`EaseScores has no weight ${WEIGHTS}`);
    return v;
  }

  override computeOutputShape(inputShape: TF.Shape | TF.Shape[]): TF.Shape {
    const s = (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as TF.Shape;
    return [s[0], this.items];
  }

  override call(inputs: TF.Tensor | TF.Tensor[]): TF.Tensor {
    return tf.tidy(() => tf.matMul(multiHot((Array.isArray(inputs) ? inputs[0] : inputs) as TF.Tensor2D, this.items), this.variable() as TF.Tensor as TF.Tensor2D));
  }

  override getConfig(): Serializable {
    return { ...super.getConfig(), items: this.items };
  }

  static override fromConfig<T extends TF.serialization.Serializable>(cls: TF.serialization.SerializableConstructor<T>, config: Serializable): T {
    return new cls(config);
  }
}
tf.serialization.registerClass(EaseScores);

export function buildEase(opts: ModelBuildOptions): HistoryModel {
  const input = tf.input({ shape: [null], dtype: 'int32', name: 'history' });
  const out = new EaseScores({ items: opts.shape.items }).apply(input) as TF.SymbolicTensor;
  return wrapEase(tf.model({ inputs: input, outputs: out, name: 'ease' }), opts);
}

function layerOf(keras: TF.LayersModel): EaseScores {
  const layer = keras.getLayer(EASE_LAYER);
  if (!(layer instanceof EaseScores)) throw new Error(`ease model has no ${EASE_LAYER} layer`);
  return layer;
}

export function wrapEase(keras: TF.LayersModel, opts: ModelBuildOptions): HistoryModel {
  const layer = layerOf(keras);
  const variable = layer.variable();
  const n = opts.shape.items;
  const values = cachedValues<Float32Array>(variable);
  return {
    name: 'ease',
    config: opts.config,
    shape: opts.shape,
    keras,
    scoreHistories: (histories, items) =>
      scoreItemSets(histories, items, n, (j, acc) => {
        const B = values();
        const row = j * n;
        for (let i = 0; i < n; i++) acc[i] += B[row + i];
      }),
    // Per history: the catalogue-wide accumulator; per score: the output and the engine's copy.
    scoreBytesPerPair: 8,
    scoreBytesPerUser: 4 * n,
    // Row j of B: what item j contributes to every other item's score.
    itemVectors: () => tf.clone(variable) as TF.Tensor as TF.Tensor2D,
  };
}

/**
 * The closed form as an epoch of steps, so that a large catalogue shows progress and a signal is
 * seen between steps: the Gram matrix, then one step per pivot block of its inversion
 * (src/models/fit/ease.ts), then B into the model. Nothing of it is saved before the last step,
 * so an interrupted epoch starts over on --resume.
 */
function easeTask(layer: EaseScores, data: FitData, lambda: number): FitTask {
  const n = data.numItems;
  const blocks = easeBlocks(n);
  let sweep: EaseSweep | null = null;
  return {
    resumesMidEpoch: false,
    beginEpoch: () => blocks + 2,
    epochExamples: () => data.items.length,
    step(k) {
      if (k === 0) sweep = easeSweep(itemGram(binaryUserRows(data), n), n, lambda, { inPlace: true });
      else if (sweep === null) throw new Error('ease: a sweep step before the Gram matrix');
      else if (k <= blocks) sweep.sweep(k - 1);
      else {
        const t = tf.tensor2d(sweep.weights(), [n, n]);
        layer.variable().assign(t);
        t.dispose();
        sweep = null;
      }
      return 0;
    },
  };
}

export const easeFamily: FittedFamily = {
  name: 'ease',
  kind: 'fitted',
  scoresFrom: 'history',
  closedForm: true,
  options: [],
  resolveLoss: (requested) => resolveFittedLoss(requested, 'ease', 'least_squares'),
  build: buildEase,
  wrap: wrapEase,
  fit(model, data, _config, train) {
    return easeTask(layerOf(model.keras), data, train.l2);
  },
  // The Gram matrix is inverted in place in JS, with panels of it in the engine; at the last step
  // B is copied into the engine beside the model's own n × n weight, so the engine holds two
  // (measured: on Amazon Games' 23,715 items that copy ran out of the 4 GiB wasm heap).
  fitBytes: (_config, shape) => {
    const square = 4 * shape.items * shape.items;
    const panels = easePeakBytes(shape.items, { inPlace: true }) - square;
    return { engine: 2 * square + panels, host: square + panels, largestArray: square, what: `a dense ${shape.items.toLocaleString('en-US')} × ${shape.items.toLocaleString('en-US')} item matrix, inverted` };
  },
  checkParents: refuseParents('ease', 'closed form is computed'),
};
