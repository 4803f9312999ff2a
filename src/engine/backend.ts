/**
 * Engine selection (docs/engines.md). `auto` takes the first of node-gpu → node → wasm → cpu that
 * loads. The tfjs-node packages are optional peer dependencies that are never installed by
 * `npm ci`: they are only ever reached through a dynamic `import()` of a computed name here, so the
 * build type-checks without them and nothing else in the code base may import them.
 *
 * The rest of the code takes `@tensorflow/tfjs` (the umbrella) from ./tf.js. That is safe because the
 * umbrella, tfjs-backend-wasm and tfjs-node all `require('@tensorflow/tfjs-core')`, which npm
 * dedupes to one copy, so every backend registers into the same engine singleton. A tfjs-node
 * whose own nested tfjs-core would register elsewhere is detected and reported (version mismatch).
 */
import { execFile } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { tf } from './tf.js';
import { UsageError } from '../util/errors.js';
import type { Logger } from '../util/log.js';
import { registerEngineKernels } from './kernels/register.js';
import { plural } from '../util/plural.js';

export const ENGINE_NAMES = ['node-gpu', 'node', 'wasm', 'cpu'] as const;
export type EngineName = (typeof ENGINE_NAMES)[number];
export type BackendChoice = 'auto' | EngineName;

export interface EngineInfo {
  name: EngineName;
  /** Version of the tfjs umbrella package the code runs against. */
  tfjsVersion: string;
  /** wasm only: whether the SIMD build was loaded. */
  simd?: boolean;
  /** wasm only: XNNPACK thread count (always 1 under Node: docs/engines.md#tfjs-behaviour-the-code-relies-on). */
  threads?: number;
  /** node-gpu only: GPU names as reported by nvidia-smi. */
  gpu?: string[];
  /** Names of the kernels we registered for this backend. */
  kernels: string[];
}

export const NODE_PACKAGES = {
  'node-gpu': '@tensorflow/tfjs-node-gpu',
  node: '@tensorflow/tfjs-node',
} as const;

/** tfjs-node registers its backend under this name, for both the cpu and the gpu package. */
const TFJS_NODE_BACKEND = 'tensorflow';
const requireHere = createRequire(import.meta.url);

let current: { requested: BackendChoice; info: EngineInfo } | null = null;
let wasmPathsSet = false;

export function tfjsVersion(): string {
  return tf.version.tfjs;
}

/** The engine set up by the last successful `initEngine`, if any. */
export function currentEngine(): EngineInfo | null {
  return current === null ? null : { ...current.info, kernels: [...current.info.kernels] };
}

export async function initEngine(opts: { backend: BackendChoice; log: Logger }): Promise<EngineInfo> {
  const { backend, log } = opts;
  // Silences the cpu backend's "Hi, looks like you are running TensorFlow.js in Node.js" banner.
  tf.env().set('PROD', true);
  if (current !== null && tf.getBackend() === backendNameOf(current.info.name)) {
    if (current.requested === backend || current.info.name === backend) return currentEngine() as EngineInfo;
  }
  let info: EngineInfo;
  if (backend === 'auto') {
    info = await initAuto(log);
    log.info(`engine: ${describeEngine(info, true)}`);
  } else {
    info = await initExplicit(backend);
    log.info(`engine: ${describeEngine(info, false)}`);
  }
  current = { requested: backend, info };
  return currentEngine() as EngineInfo;
}

/**
 * `wasm (auto), tfjs 4.22.0, simd, each op on 1 thread`. The thread count is the engine's own op
 * pool; said bare ("1 thread (auto)") it read as the run's thread count, which the training line
 * ("training on 2 threads: the main thread and 1 worker, each with its own engine") contradicted.
 */
export function describeEngine(info: EngineInfo, auto = false): string {
  const parts = [`${info.name}${auto ? ' (auto)' : ''}`, `tfjs ${info.tfjsVersion}`];
  if (info.simd !== undefined) parts.push(info.simd ? 'simd' : 'no simd');
  if (info.threads !== undefined) parts.push(`each op on ${plural(info.threads, 'thread')}`);
  if (info.gpu !== undefined && info.gpu.length > 0) parts.push(info.gpu.join(', '));
  return parts.join(', ');
}

function backendNameOf(name: EngineName): string {
  return name === 'node' || name === 'node-gpu' ? TFJS_NODE_BACKEND : name;
}

async function initAuto(log: Logger): Promise<EngineInfo> {
  for (const name of ['node-gpu', 'node'] as const) {
    if (!packageResolves(NODE_PACKAGES[name])) {
      log.debug(`engine: ${NODE_PACKAGES[name]} is not installed`);
      continue;
    }
    if (name === 'node-gpu') {
      const gpus = await listGpus();
      if (gpus.length === 0) {
        log.debug('engine: @tensorflow/tfjs-node-gpu is installed but no CUDA GPU is visible');
        continue;
      }
    }
    try {
      return await initNode(name);
    } catch (error) {
      log.warn(`engine: ${NODE_PACKAGES[name]} is installed but failed to load: ${errorText(error)}`);
    }
  }
  try {
    return await initWasm();
  } catch (error) {
    log.warn(`engine: wasm backend failed to load, falling back to cpu: ${errorText(error)}`);
  }
  return initCpu();
}

async function initExplicit(name: EngineName): Promise<EngineInfo> {
  try {
    if (name === 'node' || name === 'node-gpu') return await initNode(name);
    if (name === 'wasm') return await initWasm();
    return await initCpu();
  } catch (error) {
    if (error instanceof UsageError) throw error;
    throw new UsageError(
      `--backend ${name} could not be loaded: ${errorText(error)}. ${installHint(name)}`,
      { cause: error },
    );
  }
}

function installHint(name: EngineName): string {
  switch (name) {
    case 'node-gpu':
      return 'Install it with `npm install @tensorflow/tfjs-node-gpu@' + tfjsVersion() + '` (needs CUDA 11.2 and cuDNN 8.1; run `rec doctor` for the full steps), or use --backend auto.';
    case 'node':
      return 'Install it with `npm install @tensorflow/tfjs-node@' + tfjsVersion() + '` (run `rec doctor` for the full steps), or use --backend auto.';
    case 'wasm':
      return 'Reinstall @tensorflow/tfjs-backend-wasm (its dist/ folder must hold the .wasm files), or use --backend cpu.';
    case 'cpu':
      return 'Reinstall @tensorflow/tfjs.';
  }
}

export function packageResolves(name: string): boolean {
  try {
    requireHere.resolve(name);
    return true;
  } catch {
    return false;
  }
}

/** Loads a package that may be absent; the computed specifier keeps tsc from resolving it. */
export async function importOptional(name: string): Promise<unknown> {
  const specifier: string = name;
  return (await import(specifier)) as unknown;
}

function readVersion(mod: unknown, key: string): string | undefined {
  if (typeof mod !== 'object' || mod === null) return undefined;
  const version = (mod as { version?: unknown }).version;
  if (typeof version === 'object' && version !== null) {
    const v = (version as Record<string, unknown>)[key];
    if (typeof v === 'string') return v;
  }
  return undefined;
}

async function initNode(name: 'node' | 'node-gpu'): Promise<EngineInfo> {
  const pkg = NODE_PACKAGES[name];
  const other = NODE_PACKAGES[name === 'node' ? 'node-gpu' : 'node'];
  if (!packageResolves(pkg)) {
    throw new UsageError(`--backend ${name} needs ${pkg}, which is not installed. ${installHint(name)}`);
  }
  const mod = await importOptional(pkg);
  if (tf.findBackendFactory(TFJS_NODE_BACKEND) == null) {
    const theirs = readVersion(mod, 'tfjs-node') ?? 'unknown';
    throw new UsageError(
      `${pkg} ${theirs} loaded but registered its backend into a different copy of tfjs-core than ` +
        `@tensorflow/tfjs ${tfjsVersion()} uses. Install the matching version: npm install ${pkg}@${tfjsVersion()}` +
        (packageResolves(other) ? ` (and uninstall ${other}: only one of the two may be installed)` : ''),
    );
  }
  const ok = await tf.setBackend(TFJS_NODE_BACKEND);
  if (!ok) throw new Error(`tf.setBackend('${TFJS_NODE_BACKEND}') returned false`);
  await tf.ready();
  const info: EngineInfo = { name, tfjsVersion: tfjsVersion(), kernels: [] };
  if (name === 'node-gpu') info.gpu = await listGpus();
  return info;
}

/** The folder holding tfjs-backend-wasm's .wasm binaries (its package `main` lives beside them). */
export function wasmDistDir(): string {
  return dirname(requireHere.resolve('@tensorflow/tfjs-backend-wasm'));
}

async function initWasm(): Promise<EngineInfo> {
  // Required, not imported, like TF.js itself (engine/tf.ts): Node's ESM loader would scan the bundle first.
  const wasm = requireHere('@tensorflow/tfjs-backend-wasm') as typeof import('@tensorflow/tfjs-backend-wasm');
  const kernels = registerEngineKernels('wasm');
  if (!wasmPathsSet) {
    const dir = wasmDistDir();
    const simdFile = join(dir, 'tfjs-backend-wasm-simd.wasm');
    if (!existsSync(simdFile)) throw new Error(`missing ${simdFile}`);
    // An explicit prefix: the bundle's own default (its __dirname) breaks under bundlers, and the
    // threaded build is never wanted (threads are forced off under Node and do not help anyway).
    wasm.setWasmPaths(dir.endsWith('/') ? dir : `${dir}/`);
    wasmPathsSet = true;
  }
  const ok = await tf.setBackend('wasm');
  if (!ok) throw new Error("tf.setBackend('wasm') returned false");
  await tf.ready();
  const simd = Boolean(await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT'));
  return { name: 'wasm', tfjsVersion: tfjsVersion(), simd, threads: wasm.getThreadsCount(), kernels };
}

async function initCpu(): Promise<EngineInfo> {
  const kernels = registerEngineKernels('cpu');
  const ok = await tf.setBackend('cpu');
  if (!ok) throw new Error("tf.setBackend('cpu') returned false");
  await tf.ready();
  return { name: 'cpu', tfjsVersion: tfjsVersion(), kernels };
}

/**
 * Visible CUDA GPUs: nvidia-smi's list, narrowed by CUDA_VISIBLE_DEVICES when that hides all.
 * Empty when there is no driver, no nvidia-smi, or it does not answer within the timeout.
 */
export async function listGpus(timeoutMs = 5000): Promise<string[]> {
  const visible = process.env.CUDA_VISIBLE_DEVICES;
  if (visible !== undefined && (visible.trim() === '' || visible.trim() === '-1')) return [];
  const fromSmi = await runNvidiaSmi(['--query-gpu=name,memory.total,driver_version', '--format=csv,noheader'], timeoutMs);
  if (fromSmi !== null) {
    return fromSmi
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l.length > 0);
  }
  // No nvidia-smi on PATH: the kernel driver's proc entries still tell whether a GPU exists.
  try {
    return readdirSync('/proc/driver/nvidia/gpus').map((bus) => `NVIDIA GPU at ${bus}`);
  } catch {
    return [];
  }
}

export function runNvidiaSmi(args: string[], timeoutMs: number): Promise<string | null> {
  return new Promise((resolve) => {
    execFile('nvidia-smi', args, { timeout: timeoutMs, encoding: 'utf8' }, (error, stdout) => {
      resolve(error ? null : stdout);
    });
  });
}

export function errorText(error: unknown): string {
  if (error instanceof Error) return error.message;
  if (typeof error === 'object' && error !== null && 'message' in error) return String((error as { message: unknown }).message);
  return String(error);
}
