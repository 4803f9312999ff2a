import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO, rec, tempDir } from './helpers.js';

describe('rec CLI shell', () => {
  it('--help leads with examples and exit codes', async () => {
    const r = await rec(['--help']);
    expect(r.code).toBe(0);
    expect(r.stderr + r.stdout).toMatch(/Examples:/);
    expect(r.stderr + r.stdout).toMatch(/rec prep/);
    expect(r.stderr + r.stdout).toMatch(/Exit codes/);
  });

  it('--version prints the package version', async () => {
    const r = await rec(['--version']);
    const pkg = JSON.parse(readFileSync(join(__dirname, '../../package.json'), 'utf8')) as { version: string };
    expect(r.code).toBe(0);
    expect(r.stdout + r.stderr).toContain(pkg.version);
  });

  it('an unknown flag is a usage error (exit 2)', async () => {
    const r = await rec(['prep', 'x.csv', '--out', 'y', '--no-such-flag']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/unknown option/);
  });

  it('a misspelt config key is exit 2 naming the key path and a suggestion', async () => {
    const dir = tempDir();
    const cfg = join(dir, 'bad.yaml');
    writeFileSync(cfg, 'train:\n  learning_rte: 0.1\n');
    const r = await rec(['train', '--config', cfg, '--out', join(dir, 'ck'), '--json']);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/Unknown config key train\.learning_rte/);
    expect(r.stderr).toMatch(/Did you mean train\.lr/);
    expect(existsSync(join(dir, 'ck'))).toBe(false);
  });

  it('a bad flag value names the flag, the value and what was expected', async () => {
    const r = await rec(['train', '--lr', '-0.5', '--out', join(tempDir(), 'ck')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/train\.lr/);
    expect(r.stderr).toMatch(/-0\.5/);
    expect(r.stderr).toMatch(/flag:--lr/);
  });

  it('a missing input file is exit 2 naming the path', async () => {
    const dir = tempDir();
    const r = await rec(['prep', join(dir, 'missing.csv'), '--out', join(dir, 'ds')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('missing.csv');
    expect(readdirSync(dir)).toEqual([]);
  });

  it('environment variables sit between config files and flags: the environment beats a file, a flag beats both', async () => {
    const dir = tempDir();
    const cfg = join(dir, 'c.yaml');
    writeFileSync(cfg, 'train:\n  lr: -1\n  epochs: 0\n');
    // Each layer sets an invalid lr: the error names the value and the layer that won.
    const lrError = (r: { stderr: string }) => /Invalid value for train\.lr:.*Received: (\S+) \(from (\S+)\)/.exec(r.stderr)?.slice(1, 3);
    const args = ['train', '--config', cfg, '--out', join(dir, 'ck')];
    const fromFile = await rec(args);
    expect(fromFile.code).toBe(2);
    expect(lrError(fromFile)).toEqual(['-1', `config:${cfg}`]);
    const fromEnv = await rec(args, { env: { REC_TRAIN_LR: '-2' } });
    expect(fromEnv.code).toBe(2);
    expect(lrError(fromEnv)).toEqual(['-2', 'env:REC_TRAIN_LR']);
    const fromFlag = await rec([...args, '--lr', '-3'], { env: { REC_TRAIN_LR: '-2' } });
    expect(fromFlag.code).toBe(2);
    expect(lrError(fromFlag)).toEqual(['-3', 'flag:--lr']);
    // A valid flag over an invalid environment value: lr passes, and only the file's epochs is refused.
    const valid = await rec([...args, '--lr', '0.01'], { env: { REC_TRAIN_LR: '-2' } });
    expect(valid.code).toBe(2);
    expect(valid.stderr).toMatch(/Invalid value for train\.epochs:.*Received: 0 \(from config:/);
    expect(valid.stderr).not.toMatch(/train\.lr/);
    expect(existsSync(join(dir, 'ck'))).toBe(false);
  });
});

interface DoctorJson {
  engines: { name: string; package: string; installed: boolean; loads: boolean; error?: string }[];
  auto: string;
  gpu: { devices: string[] };
  advice: string[];
}

const GPU_PACKAGE = '@tensorflow/tfjs-node-gpu';
const CPU_PACKAGE = '@tensorflow/tfjs-node';
/** Whether a package resolves from the repository, as rec's own engine probe resolves it. */
const resolvable = (name: string): boolean => {
  try {
    createRequire(join(REPO, 'package.json')).resolve(name);
    return true;
  } catch {
    return false;
  }
};

async function doctor(env: NodeJS.ProcessEnv = {}): Promise<DoctorJson> {
  const r = await rec(['doctor', '--json'], { env });
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as DoctorJson;
}

describe('rec doctor', () => {
  it('reports wasm and cpu as loading, each tfjs-node engine as installed exactly when its package resolves here, and the engine auto picks', async () => {
    const report = await doctor();
    const byName = Object.fromEntries(report.engines.map((e) => [e.name, e]));
    expect(byName.wasm.loads).toBe(true);
    expect(byName.cpu.loads).toBe(true);
    for (const [name, pkg] of [['node-gpu', GPU_PACKAGE], ['node', CPU_PACKAGE]] as const) {
      expect(byName[name].package).toBe(pkg);
      expect(byName[name].installed, pkg).toBe(resolvable(pkg));
      if (!resolvable(pkg)) expect(byName[name]).toMatchObject({ loads: false, error: 'not installed' });
    }
    const advice = report.advice.join('\n');
    if (byName['node-gpu'].loads && report.gpu.devices.length > 0) {
      expect(report.auto).toBe('node-gpu');
      expect(advice).toMatch(/The GPU engine is ready/);
      return;
    }
    expect(report.auto).toBe(byName.node.loads ? 'node' : 'wasm');
    // Without a working GPU engine, the advice gives the steps to install it.
    expect(advice).toContain(`npm install ${GPU_PACKAGE}@`);
    if (byName['node-gpu'].installed) expect(advice).toContain(`${GPU_PACKAGE} is installed but does not load`);
    if (resolvable(GPU_PACKAGE) && resolvable(CPU_PACKAGE)) expect(advice).toMatch(/Both .* are installed/);
  });

  it.skipIf(resolvable(GPU_PACKAGE))('a tfjs-node-gpu that resolves but does not load is reported installed, not loading, with the reason and the usual fixes', async () => {
    // A package folder found through NODE_PATH: require.resolve sees it, the engine's import does not.
    const paths = tempDir();
    const pkg = join(paths, ...GPU_PACKAGE.split('/'));
    mkdirSync(pkg, { recursive: true });
    writeFileSync(join(pkg, 'package.json'), JSON.stringify({ name: GPU_PACKAGE, version: '0.0.0', main: 'index.js' }));
    writeFileSync(join(pkg, 'index.js'), 'throw new Error("libcudart.so.11.0: cannot open shared object file");\n');
    const report = await doctor({ NODE_PATH: paths });
    const gpu = report.engines.find((e) => e.name === 'node-gpu');
    expect(gpu).toMatchObject({ installed: true, loads: false });
    expect(gpu?.error).toBeTruthy();
    expect(gpu?.error).not.toBe('not installed');
    expect(report.auto).toBe(resolvable(CPU_PACKAGE) ? 'node' : 'wasm');
    expect(report.advice.join('\n')).toContain(`${GPU_PACKAGE} is installed but does not load (${gpu?.error}). Usual causes:`);
  });
});
