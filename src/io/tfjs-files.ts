/**
 * A file-system IOHandler for TF.js without tfjs-node (docs/engines.md#tfjs-behaviour-the-code-relies-on: plain tfjs has no file://
 * handler). Writes the standard `model.json` + `weights.bin` pair that `tf.loadLayersModel` reads
 * (with tfjs-node's file:// loader or any HTTP server), atomically.
 */
import type * as TF from '@tensorflow/tfjs';
import { tf } from '../engine/tf.js';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DataError } from '../util/errors.js';
import { stableJson, writeFileAtomic } from './atomic.js';
import { sha256Hex } from '../util/hash.js';
import { checkWeightBytes, MODEL_JSON, readModelFiles, readWeightFile, verifyWeights, WEIGHTS_BIN, type WeightsCheck } from './model-files.js';

export { readModelJson, type WeightsCheck } from './model-files.js';

function weightBytes(data: TF.io.WeightData | undefined): Uint8Array {
  if (!data) return new Uint8Array(0);
  const joined = Array.isArray(data) ? tf.io.CompositeArrayBuffer.join(data) : data;
  return new Uint8Array(joined);
}

/** `onSaved` receives the sha256 of the weights file written. */
export function fileSaveHandler(dir: string, onSaved?: (sha256: string) => void): TF.io.IOHandler {
  return {
    async save(artifacts: TF.io.ModelArtifacts): Promise<TF.io.SaveResult> {
      const bytes = weightBytes(artifacts.weightData);
      const hash = sha256Hex(bytes);
      const modelJson = {
        weightsSha256: hash,
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
      onSaved?.(hash);
      return { modelArtifactsInfo: tf.io.getModelArtifactsInfoForJSON(artifacts) };
    },
  };
}

export function fileLoadHandler(dir: string, check: WeightsCheck = {}): TF.io.IOHandler {
  return {
    async load(): Promise<TF.io.ModelArtifacts> {
      const { json, specs, weightData } = await readModelFiles(dir, check);
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

/** Named tensors (optimizer state, non-Keras weights) as one `<name>.json` + `<name>.bin` pair; returns the .bin's sha256. */
export async function saveTensors(dir: string, name: string, tensors: TF.NamedTensorMap): Promise<string> {
  const { data, specs } = await tf.io.encodeWeights(tensors);
  const bytes = weightBytes(data);
  const hash = sha256Hex(bytes);
  await writeFileAtomic(join(dir, `${name}.bin`), bytes);
  await writeFileAtomic(join(dir, `${name}.json`), stableJson({ sha256: hash, weights: specs }));
  return hash;
}

export async function loadTensors(dir: string, name: string, check: WeightsCheck = {}): Promise<TF.NamedTensorMap> {
  const specsPath = join(dir, `${name}.json`);
  let parsed: { weights?: unknown; sha256?: unknown };
  try {
    parsed = JSON.parse(await readFile(specsPath, 'utf8')) as { weights?: unknown; sha256?: unknown };
  } catch (error) {
    throw new DataError(`Cannot read ${specsPath}: ${error instanceof Error ? error.message : String(error)}. The checkpoint is corrupt or incomplete.`);
  }
  if (typeof parsed !== 'object' || parsed === null || !Array.isArray(parsed.weights)) {
    throw new DataError(`${specsPath} has no "weights" list; the checkpoint is corrupt.`);
  }
  const specs = parsed.weights as TF.io.WeightsManifestEntry[];
  const binPath = join(dir, `${name}.bin`);
  const bytes = await readWeightFile(binPath);
  checkWeightBytes(binPath, specs, bytes.byteLength);
  verifyWeights(binPath, bytes, parsed.sha256, check, specsPath);
  const copy = new Uint8Array(bytes.byteLength);
  copy.set(bytes);
  return tf.io.decodeWeights(copy.buffer, specs);
}
