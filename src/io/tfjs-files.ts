/**
 * A file-system IOHandler for TF.js without tfjs-node (engine.md §5.8: plain tfjs has no file://
 * handler). Writes the standard `model.json` + `weights.bin` pair that `tf.loadLayersModel` reads
 * (with tfjs-node's file:// loader or any HTTP server), atomically.
 */
import * as tf from '@tensorflow/tfjs';
import { createHash } from 'node:crypto';
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

export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/**
 * How a load checks the weights it reads. `weightsSha256` in model.json (and `sha256` in a tensors
 * json) is written in the same folder, before it, so it always describes the weights beside it even
 * after a kill; `expected` is a hash recorded elsewhere (run.json) that must agree too. Files from
 * before hashes were recorded load after `unverified` is told.
 */
export interface WeightsCheck {
  expected?: string | null;
  unverified?: (path: string) => void;
}

function verifyWeights(path: string, bytes: Uint8Array, recorded: unknown, check: WeightsCheck, recordedIn: string): void {
  const wanted = [typeof recorded === 'string' ? { hash: recorded, where: recordedIn } : null, check.expected ? { hash: check.expected, where: 'run.json' } : null].filter((w) => w !== null);
  if (wanted.length === 0) {
    check.unverified?.(path);
    return;
  }
  const actual = sha256Hex(bytes);
  for (const w of wanted) {
    if (w.hash !== actual) {
      throw new DataError(`${path} is corrupt: its sha256 is ${actual}, ${w.where} records ${w.hash}. Restore the checkpoint from a copy or train it again.`);
    }
  }
}

/** Non-finite float32 weights (NaN, Inf) are never a trained model; say so instead of scoring with them. */
function checkFinite(path: string, specs: readonly tf.io.WeightsManifestEntry[], bytes: Uint8Array): void {
  let offset = 0;
  for (const s of specs) {
    const n = s.shape.reduce((a, d) => a * d, 1);
    const size = s.quantization ? (s.quantization.dtype === 'uint8' ? 1 : 2) : (BYTES_PER_ELEMENT[s.dtype] ?? 4);
    if (!s.quantization && s.dtype === 'float32') {
      const view = new DataView(bytes.buffer, bytes.byteOffset + offset, n * 4);
      for (let i = 0; i < n; i++) {
        if (!Number.isFinite(view.getFloat32(i * 4, true))) {
          throw new DataError(`${path} is corrupt: weight ${s.name} holds a non-finite value (${view.getFloat32(i * 4, true)}) at element ${i}. Restore the checkpoint from a copy or train it again.`);
        }
      }
    }
    offset += n * size;
  }
}

/** `onSaved` receives the sha256 of the weights file written. */
export function fileSaveHandler(dir: string, onSaved?: (sha256: string) => void): tf.io.IOHandler {
  return {
    async save(artifacts: tf.io.ModelArtifacts): Promise<tf.io.SaveResult> {
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

interface ModelJson {
  weightsSha256?: string;
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
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new DataError(`${path} is not valid JSON; the checkpoint is corrupt.`);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new DataError(`${path} is not a JSON object; the checkpoint is corrupt.`);
  const model = json as ModelJson;
  if (typeof model.modelTopology !== 'object' || model.modelTopology === null) {
    throw new DataError(`${path} has no modelTopology; it is not a TF.js layers model (the checkpoint is corrupt).`);
  }
  if (!Array.isArray(model.weightsManifest) || model.weightsManifest.some((g) => !Array.isArray(g?.paths) || !Array.isArray(g?.weights))) {
    throw new DataError(`${path} has no valid weightsManifest (a list of {paths, weights}); the checkpoint is corrupt.`);
  }
  return model;
}

const BYTES_PER_ELEMENT: Record<string, number> = { float32: 4, int32: 4, bool: 1, complex64: 8 };

/**
 * The bytes the specs describe. A truncated or padded weights file is caught here, with its path,
 * instead of surfacing as a RangeError deep inside TF.js decoding.
 */
function checkWeightBytes(path: string, specs: readonly tf.io.WeightsManifestEntry[], actual: number): void {
  let expected = 0;
  for (const s of specs) {
    if (typeof s !== 'object' || s === null || !Array.isArray(s.shape) || typeof s.name !== 'string') {
      throw new DataError(`The weights manifest for ${path} has an entry without a name and shape (${JSON.stringify(s)}); the checkpoint is corrupt.`);
    }
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

export function fileLoadHandler(dir: string, check: WeightsCheck = {}): tf.io.IOHandler {
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
      const weightsPath = join(dir, manifest[0]?.paths[0] ?? WEIGHTS_BIN);
      checkWeightBytes(weightsPath, specs, total);
      const weightData = new Uint8Array(total);
      let offset = 0;
      for (const b of buffers) {
        weightData.set(b, offset);
        offset += b.byteLength;
      }
      verifyWeights(weightsPath, weightData, json.weightsSha256, check, join(dir, MODEL_JSON));
      checkFinite(weightsPath, specs, weightData);
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
export async function saveTensors(dir: string, name: string, tensors: tf.NamedTensorMap): Promise<string> {
  const { data, specs } = await tf.io.encodeWeights(tensors);
  const bytes = weightBytes(data);
  const hash = sha256Hex(bytes);
  await writeFileAtomic(join(dir, `${name}.bin`), bytes);
  await writeFileAtomic(join(dir, `${name}.json`), stableJson({ sha256: hash, weights: specs }));
  return hash;
}

export async function loadTensors(dir: string, name: string, check: WeightsCheck = {}): Promise<tf.NamedTensorMap> {
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
  const specs = parsed.weights as tf.io.WeightsManifestEntry[];
  const binPath = join(dir, `${name}.bin`);
  const bytes = await readWeightFile(binPath);
  checkWeightBytes(binPath, specs, bytes.byteLength);
  verifyWeights(binPath, bytes, parsed.sha256, check, specsPath);
  const copy = new Uint8Array(bytes.byteLength);
  copy.set(bytes);
  return tf.io.decodeWeights(copy.buffer, specs);
}
