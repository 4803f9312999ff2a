/**
 * A file-system IOHandler for TF.js without tfjs-node (engine.md §5.8: plain tfjs has no file://
 * handler). Writes the standard `model.json` + `weights.bin` pair that `tf.loadLayersModel` reads
 * (with tfjs-node's file:// loader or any HTTP server), atomically.
 */
import * as tf from '@tensorflow/tfjs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DataError } from '../util/errors.js';
import { stableJson, writeFileAtomic } from './atomic.js';

const MODEL_JSON = 'model.json';
const WEIGHTS_BIN = 'weights.bin';

function weightBytes(data: tf.io.WeightData | undefined): Uint8Array {
  if (!data) return new Uint8Array(0);
  const joined = Array.isArray(data) ? tf.io.CompositeArrayBuffer.join(data) : data;
  return new Uint8Array(joined);
}

export function fileSaveHandler(dir: string): tf.io.IOHandler {
  return {
    async save(artifacts: tf.io.ModelArtifacts): Promise<tf.io.SaveResult> {
      const bytes = weightBytes(artifacts.weightData);
      const modelJson = {
        format: artifacts.format ?? 'layers-model',
        generatedBy: artifacts.generatedBy,
        convertedBy: artifacts.convertedBy ?? null,
        modelTopology: artifacts.modelTopology,
        trainingConfig: artifacts.trainingConfig,
        userDefinedMetadata: artifacts.userDefinedMetadata,
        weightsManifest: [{ paths: [`./${WEIGHTS_BIN}`], weights: artifacts.weightSpecs ?? [] }],
      };
      // Weights first: model.json names weights.bin, so it must never point at a missing file.
      await writeFileAtomic(join(dir, WEIGHTS_BIN), bytes);
      await writeFileAtomic(join(dir, MODEL_JSON), stableJson(modelJson));
      return { modelArtifactsInfo: tf.io.getModelArtifactsInfoForJSON(artifacts) };
    },
  };
}

interface ModelJson {
  format?: string;
  generatedBy?: string;
  convertedBy?: string | null;
  modelTopology?: tf.io.ModelArtifacts['modelTopology'];
  trainingConfig?: tf.io.TrainingConfig;
  userDefinedMetadata?: { [key: string]: {} };
  weightsManifest?: { paths: string[]; weights: tf.io.WeightsManifestEntry[] }[];
}

export async function readModelJson(dir: string): Promise<ModelJson> {
  const path = join(dir, MODEL_JSON);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new DataError(`Cannot read ${path}: ${(error as NodeJS.ErrnoException).code ?? String(error)}. Expected a TF.js model folder written by rec train.`);
  }
  try {
    return JSON.parse(text) as ModelJson;
  } catch {
    throw new DataError(`${path} is not valid JSON; the checkpoint is corrupt.`);
  }
}

const BYTES_PER_ELEMENT: Record<string, number> = { float32: 4, int32: 4, bool: 1, complex64: 8 };

/**
 * The bytes the specs describe. A truncated or padded weights file is caught here, with its path,
 * instead of surfacing as a RangeError deep inside TF.js decoding.
 */
function checkWeightBytes(path: string, specs: readonly tf.io.WeightsManifestEntry[], actual: number): void {
  let expected = 0;
  for (const s of specs) {
    const bytes = s.quantization ? (s.quantization.dtype === 'uint8' ? 1 : 2) : (BYTES_PER_ELEMENT[s.dtype] ?? 4);
    expected += s.shape.reduce((n, d) => n * d, 1) * bytes;
  }
  if (expected !== actual) {
    throw new DataError(`${path} holds ${actual} bytes; its manifest describes ${expected}. The checkpoint is corrupt or incomplete.`);
  }
}

async function readWeightFile(path: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (error) {
    throw new DataError(`Cannot read ${path}: ${(error as NodeJS.ErrnoException).code ?? String(error)}. The checkpoint is incomplete.`);
  }
}

export function fileLoadHandler(dir: string): tf.io.IOHandler {
  return {
    async load(): Promise<tf.io.ModelArtifacts> {
      const json = await readModelJson(dir);
      const manifest = json.weightsManifest ?? [];
      const specs = manifest.flatMap((group) => group.weights);
      const buffers: Uint8Array[] = [];
      for (const group of manifest) {
        for (const p of group.paths) buffers.push(await readWeightFile(join(dir, p)));
      }
      const total = buffers.reduce((n, b) => n + b.byteLength, 0);
      checkWeightBytes(join(dir, manifest[0]?.paths[0] ?? WEIGHTS_BIN), specs, total);
      const weightData = new Uint8Array(total);
      let offset = 0;
      for (const b of buffers) {
        weightData.set(b, offset);
        offset += b.byteLength;
      }
      return {
        modelTopology: json.modelTopology,
        format: json.format,
        generatedBy: json.generatedBy,
        convertedBy: json.convertedBy ?? undefined,
        trainingConfig: json.trainingConfig,
        userDefinedMetadata: json.userDefinedMetadata,
        weightSpecs: specs,
        weightData: weightData.buffer,
      };
    },
  };
}

/** Named tensors (optimizer state, non-Keras weights) as one `<name>.json` + `<name>.bin` pair. */
export async function saveTensors(dir: string, name: string, tensors: tf.NamedTensorMap): Promise<void> {
  const { data, specs } = await tf.io.encodeWeights(tensors);
  await writeFileAtomic(join(dir, `${name}.bin`), weightBytes(data));
  await writeFileAtomic(join(dir, `${name}.json`), stableJson({ weights: specs }));
}

export async function loadTensors(dir: string, name: string): Promise<tf.NamedTensorMap> {
  const specsPath = join(dir, `${name}.json`);
  let specs: tf.io.WeightsManifestEntry[];
  try {
    specs = (JSON.parse(await readFile(specsPath, 'utf8')) as { weights: tf.io.WeightsManifestEntry[] }).weights;
  } catch (error) {
    throw new DataError(`Cannot read ${specsPath}: ${error instanceof Error ? error.message : String(error)}.`);
  }
  const binPath = join(dir, `${name}.bin`);
  const bytes = await readWeightFile(binPath);
  checkWeightBytes(binPath, specs, bytes.byteLength);
  const copy = new Uint8Array(bytes.byteLength);
  copy.set(bytes);
  return tf.io.decodeWeights(copy.buffer, specs);
}
