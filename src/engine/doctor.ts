/**
 * `rec doctor` data (docs/engines.md): which engines load here, their versions, the GPUs that are
 * visible, and the exact steps to get the GPU engine. Returns plain data; the CLI prints it.
 *
 * Sources for the advice (checked 2025, tfjs 4.22.0):
 * - tfjs-node(-gpu) 4.x's install script downloads libtensorflow 2.9.1 (docs/engines.md#enabling-the-gpu-engine), and the
 *   tfjs-node README of the 4.x line lists CUDA Toolkit 11.2, cuDNN SDK 8.1.0 and NVIDIA driver
 *   > 450.x for the GPU package (TensorFlow 2.9's tested build configuration is the same pair).
 * - npm 11 blocks dependency install scripts unless approved (`npm help install-scripts`, npm
 *   11.19.1: `npm install-scripts approve <pkg>`; `npm rebuild <pkg>` then runs the skipped script).
 * - Both packages register the same `tensorflow` backend, so only one may be installed.
 */
import { availableParallelism } from 'node:os';
import { tf } from './tf.js';
import type { Logger } from '../util/log.js';
import {
  currentEngine,
  errorText,
  importOptional,
  initEngine,
  listGpus,
  NODE_PACKAGES,
  packageResolves,
  runNvidiaSmi,
  tfjsVersion,
  type EngineInfo,
  type EngineName,
} from './backend.js';
import { autoWorkers } from './workers.js';

export interface EngineProbe {
  name: EngineName;
  /** The npm package that provides it. */
  package: string;
  installed: boolean;
  loads: boolean;
  version?: string;
  error?: string;
  /** wasm only. */
  simd?: boolean;
  /** wasm only. */
  threads?: number;
  /** Names of our kernels registered for it. */
  kernels?: string[];
}

/** Printed as-is by `rec doctor --json`, so its keys are snake_case like every other JSON of rec. */
export interface DoctorReport {
  tfjs_version: string;
  node: string;
  platform: string;
  engines: EngineProbe[];
  /** What `--backend auto` would pick here. */
  auto: EngineName;
  /** Training threads `--workers auto` would use with that engine (fewer for a batch under 1,024 examples a thread). */
  workers_auto: number;
  /** Cores this process may use (os.availableParallelism). */
  cores: number;
  gpu: {
    /** GPU rows from nvidia-smi (name, memory, driver), or from /proc when nvidia-smi is absent. */
    devices: string[];
    nvidia_smi: boolean;
    /** Highest CUDA version the driver supports, from nvidia-smi's banner. */
    driver_cuda_version?: string;
  };
  /** Requirements of the GPU engine, for the printout. */
  gpu_requirements: { package: string; cuda: string; cudnn: string; driver: string };
  /** Ordered, copy-pasteable steps and notes. */
  advice: string[];
}

const CUDA = '11.2';
const CUDNN = '8.1';
const DRIVER = '> 450.x';

export async function runDoctor(log: Logger, opts: { timeoutMs?: number } = {}): Promise<DoctorReport> {
  const timeoutMs = opts.timeoutMs ?? 5000;
  const previous = currentEngine();
  const [devices, banner] = await Promise.all([listGpus(timeoutMs), runNvidiaSmi([], timeoutMs)]);
  const driverCudaVersion = banner?.match(/CUDA Version:\s*([0-9.]+)/)?.[1];

  const engines: EngineProbe[] = [];
  for (const name of ['node-gpu', 'node'] as const) engines.push(await probeNode(name));
  engines.push(await probeBundled('wasm', '@tensorflow/tfjs-backend-wasm', log));
  engines.push(await probeBundled('cpu', '@tensorflow/tfjs', log));
  if (previous !== null) await initEngine({ backend: previous.name, log });

  const byName = (n: EngineName): EngineProbe => engines.find((e) => e.name === n) as EngineProbe;
  const auto: EngineName =
    byName('node-gpu').loads && devices.length > 0 ? 'node-gpu' : byName('node').loads ? 'node' : byName('wasm').loads ? 'wasm' : 'cpu';

  const report: DoctorReport = {
    tfjs_version: tfjsVersion(),
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
    engines,
    auto,
    workers_auto: autoWorkers(auto),
    cores: availableParallelism(),
    gpu: { devices, nvidia_smi: banner !== null, ...(driverCudaVersion !== undefined ? { driver_cuda_version: driverCudaVersion } : {}) },
    gpu_requirements: { package: `${NODE_PACKAGES['node-gpu']}@${tfjsVersion()}`, cuda: CUDA, cudnn: CUDNN, driver: DRIVER },
    advice: [],
  };
  report.advice = buildAdvice(report);
  return report;
}

async function probeNode(name: 'node' | 'node-gpu'): Promise<EngineProbe> {
  const pkg = NODE_PACKAGES[name];
  const probe: EngineProbe = { name, package: pkg, installed: packageResolves(pkg), loads: false };
  if (!probe.installed) {
    probe.error = 'not installed';
    return probe;
  }
  try {
    // Importing loads the native addon and libtensorflow, so success here means the engine loads.
    const mod = await importOptional(pkg);
    const version = (mod as { version?: Record<string, unknown> }).version?.['tfjs-node'];
    if (typeof version === 'string') probe.version = version;
    if (tf.findBackendFactory('tensorflow') == null) {
      probe.error = `registered into another copy of tfjs-core: install ${pkg}@${tfjsVersion()}`;
    } else {
      probe.loads = true;
    }
  } catch (error) {
    probe.error = errorText(error);
  }
  return probe;
}

async function probeBundled(name: 'wasm' | 'cpu', pkg: string, log: Logger): Promise<EngineProbe> {
  const probe: EngineProbe = { name, package: pkg, installed: packageResolves(pkg), loads: false, version: tfjsVersion() };
  try {
    const info: EngineInfo = await initEngine({ backend: name, log: quiet(log) });
    probe.loads = true;
    if (info.simd !== undefined) probe.simd = info.simd;
    if (info.threads !== undefined) probe.threads = info.threads;
    probe.kernels = info.kernels;
  } catch (error) {
    probe.error = errorText(error);
  }
  return probe;
}

/** Engine switches during probing are not news to the user; keep only warnings and errors. */
function quiet(log: Logger): Logger {
  return { ...log, info: () => undefined };
}

function buildAdvice(r: DoctorReport): string[] {
  const gpuPkg = NODE_PACKAGES['node-gpu'];
  const cpuPkg = NODE_PACKAGES.node;
  const v = r.tfjs_version;
  const gpuProbe = r.engines.find((e) => e.name === 'node-gpu') as EngineProbe;
  const cpuProbe = r.engines.find((e) => e.name === 'node') as EngineProbe;
  const advice: string[] = [];
  if (gpuProbe.installed && cpuProbe.installed) {
    advice.push(`Both ${gpuPkg} and ${cpuPkg} are installed; they register the same backend, so only one may be. Remove one: npm uninstall ${cpuPkg}`);
  }
  if (gpuProbe.loads && r.gpu.devices.length > 0) {
    advice.push(`The GPU engine is ready: rec train --backend node-gpu (or --backend auto).`);
    return advice;
  }
  if (r.gpu.devices.length === 0) {
    advice.push(
      r.gpu.nvidia_smi
        ? 'nvidia-smi lists no GPU: the GPU engine cannot be used on this machine.'
        : 'No CUDA GPU is visible (nvidia-smi not found or not answering, or CUDA_VISIBLE_DEVICES hides all devices).',
    );
  }
  const steps = [
    `To use an NVIDIA GPU (Linux x86-64): install the NVIDIA driver (${DRIVER}), CUDA Toolkit ${CUDA} and cuDNN ${CUDNN}; their libraries (libcudart.so.11.0, libcudnn.so.8) must be on LD_LIBRARY_PATH. tfjs-node-gpu ${v} links libtensorflow 2.9.1, which needs exactly these versions.`,
    cpuProbe.installed ? `Remove the CPU package first (only one of the two may be installed): npm uninstall ${cpuPkg}` : '',
    `npm install ${gpuPkg}@${v}`,
    `npm 11 blocks dependency install scripts unless approved, and this package's install script downloads libtensorflow (network access to storage.googleapis.com needed): npm install-scripts approve ${gpuPkg} && npm rebuild ${gpuPkg}`,
    `Check with: rec doctor; then train with --backend node-gpu (or auto).`,
    `Note: only one of the two ${gpuPkg} / ${cpuPkg} packages may be installed at a time (both register the same backend).`,
  ].filter((s) => s.length > 0);
  if (gpuProbe.installed && !gpuProbe.loads) {
    advice.push(`${gpuPkg} is installed but does not load (${gpuProbe.error ?? 'unknown error'}). Usual causes: its install script was skipped (npm install-scripts approve ${gpuPkg} && npm rebuild ${gpuPkg}) or CUDA ${CUDA} / cuDNN ${CUDNN} libraries are missing.`);
  }
  advice.push(...steps);
  if (!cpuProbe.loads && !gpuProbe.installed) {
    advice.push(
      `Without a GPU, native TensorFlow on the CPU is ${cpuPkg}: npm install ${cpuPkg}@${v} && npm install-scripts approve ${cpuPkg} && npm rebuild ${cpuPkg}. Otherwise the bundled wasm engine is used (no install needed).`,
    );
  }
  return advice;
}
