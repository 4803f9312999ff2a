/**
 * ItemKNN (Sarwar et al., WWW 2001; the neighbourhood baseline of Dacrema et al., RecSys 2019):
 * each item keeps its k most similar items by cosine over the users who touched them, shrunk
 * towards 0 when few users support it,
 *
 *   sim(i, j) = x_i · x_j / (‖x_i‖ ‖x_j‖ + shrink)        (x_i: item i's binary column of X)
 *
 * and score(u, i) = Σ_{j ∈ history(u)} sim(j, i) over the neighbours of j (src/models/item-item.ts).
 * Memory is linear in the catalogue (items × k), so it fits catalogues EASE cannot. Fitted in
 * closed form by one epoch; no user rows, --init-from does not apply.
 */
import type * as TF from '@tensorflow/tfjs';
import { tf } from '../engine/tf.js';
import { closedFormTask, refuseParents, resolveFittedLoss, type FittedFamily } from './family.js';
import { topKCosine } from './fit/item-similarity.js';
import { binaryUserRows, cachedValues, multiHot, scoreItemSets } from './item-item.js';
import type { HistoryModel, ModelBuildOptions } from './model.js';

export const ITEMKNN_LAYER = 'itemknn';

type Serializable = TF.serialization.ConfigDict;

/** The saved graph's one layer: padded history [n, width] → scores of every item [n, items]. */
export class ItemKnnScores extends tf.layers.Layer {
  static className = 'ItemKnnScores';
  readonly items: number;
  readonly k: number;
  private ids: TF.LayerVariable | null = null;
  private sims: TF.LayerVariable | null = null;

  constructor(args: { items: number; k: number; name?: string }) {
    super({ name: args.name ?? ITEMKNN_LAYER });
    this.items = args.items;
    this.k = args.k;
  }

  override build(): void {
    // Unused slots: neighbour -1, similarity 0.
    this.ids = this.addWeight('neighbour_ids', [this.items, this.k], 'int32', tf.initializers.constant({ value: -1 }), undefined, false);
    this.sims = this.addWeight('neighbour_sims', [this.items, this.k], 'float32', tf.initializers.zeros(), undefined, false);
    this.built = true;
  }

  variables(): { ids: TF.Variable; sims: TF.Variable } {
    const ids = this.ids?.read();
    const sims = this.sims?.read();
    if (!(ids instanceof tf.Variable) || !(sims instanceof tf.Variable)) throw new Error('ItemKnnScores is not built');
    return { ids, sims };
  }

  override computeOutputShape(inputShape: TF.Shape | TF.Shape[]): TF.Shape {
    const s = (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as TF.Shape;
    return [s[0], this.items];
  }

  /** The dense similarity matrix, built per call: the plain-TF.js path, O(items²) memory. */
  override call(inputs: TF.Tensor | TF.Tensor[]): TF.Tensor {
    return tf.tidy(() => {
      const { ids, sims } = this.variables();
      const rows = tf.tile(tf.reshape(tf.range(0, this.items, 1, 'int32'), [-1, 1]), [1, this.k]);
      const indices = tf.stack([tf.reshape(rows, [-1]), tf.reshape(tf.cast(tf.maximum(ids, 0), 'int32'), [-1])], 1) as TF.Tensor2D;
      const dense = tf.scatterND(indices, tf.reshape(sims, [-1]), [this.items, this.items]) as TF.Tensor2D;
      return tf.matMul(multiHot((Array.isArray(inputs) ? inputs[0] : inputs) as TF.Tensor2D, this.items), dense);
    });
  }

  override getConfig(): Serializable {
    return { ...super.getConfig(), items: this.items, k: this.k };
  }

  static override fromConfig<T extends TF.serialization.Serializable>(cls: TF.serialization.SerializableConstructor<T>, config: Serializable): T {
    return new cls(config);
  }
}
tf.serialization.registerClass(ItemKnnScores);

function layerOf(keras: TF.LayersModel): ItemKnnScores {
  const layer = keras.getLayer(ITEMKNN_LAYER);
  if (!(layer instanceof ItemKnnScores)) throw new Error(`itemknn model has no ${ITEMKNN_LAYER} layer`);
  return layer;
}

export function buildItemKnn(opts: ModelBuildOptions): HistoryModel {
  const input = tf.input({ shape: [null], dtype: 'int32', name: 'history' });
  const out = new ItemKnnScores({ items: opts.shape.items, k: Math.min(opts.config.neighbours, Math.max(1, opts.shape.items - 1)) }).apply(input) as TF.SymbolicTensor;
  return wrapItemKnn(tf.model({ inputs: input, outputs: out, name: 'itemknn' }), opts);
}

export function wrapItemKnn(keras: TF.LayersModel, opts: ModelBuildOptions): HistoryModel {
  const layer = layerOf(keras);
  const vars = layer.variables();
  const ids = cachedValues<Int32Array>(vars.ids);
  const sims = cachedValues<Float32Array>(vars.sims);
  const { k } = layer;
  return {
    name: 'itemknn',
    config: opts.config,
    shape: opts.shape,
    keras,
    scoreHistories: (histories, items) =>
      scoreItemSets(histories, items, opts.shape.items, (j, acc) => {
        const id = ids();
        const sim = sims();
        for (let s = j * k, end = s + k; s < end && id[s] >= 0; s++) acc[id[s]] += sim[s];
      }),
    scoreBytesPerPair: 8,
    scoreBytesPerUser: 4 * opts.shape.items,
    similarTo(item) {
      const out = new Float64Array(opts.shape.items);
      const id = ids();
      const sim = sims();
      for (let s = item * k, end = s + k; s < end && id[s] >= 0; s++) out[id[s]] = sim[s];
      return out;
    },
  };
}

export const itemKnnFamily: FittedFamily = {
  name: 'itemknn',
  kind: 'fitted',
  scoresFrom: 'history',
  closedForm: true,
  options: ['neighbours', 'shrink'],
  resolveLoss: (requested) => resolveFittedLoss(requested, 'itemknn', 'cosine'),
  build: buildItemKnn,
  wrap: wrapItemKnn,
  fit(model, data, config) {
    const layer = layerOf(model.keras);
    const rows = binaryUserRows(data);
    return closedFormTask(data.items.length, () => {
      const found = topKCosine(rows, data.numItems, { k: layer.k, shrink: config.shrink });
      const { ids, sims } = layer.variables();
      const idT = tf.tensor2d(found.ids, [data.numItems, layer.k], 'int32');
      const simT = tf.tensor2d(found.sims, [data.numItems, layer.k]);
      ids.assign(idT);
      sims.assign(simT);
      tf.dispose([idT, simT]);
    });
  },
  // The neighbour lists (ids and similarities) in both memories; in JS one accumulator row and the item → users transpose, which the rows bound.
  fitBytes: (config, shape) => {
    const lists = 8 * shape.items * config.neighbours;
    return { engine: lists, host: lists + 16 * shape.items + 8 * shape.users, largestArray: lists / 2, what: `${config.neighbours} neighbours per item` };
  },
  checkParents: refuseParents('itemknn', 'similarities are computed'),
};
