import type { Command } from 'commander';
import { BUILT_MODELS } from '../../config/model-names.js';
import type { DoctorReport } from '../../engine/doctor.js';
import { threadsItself } from '../../engine/workers.js';
import { plural } from '../../util/plural.js';
import { addConfigOptions } from '../options.js';
import { addGlobalFlags, runCommand, type Runtime } from '../runtime.js';

export function describeDoctor(report: DoctorReport): string {
  const lines = [`rec doctor — TF.js ${report.tfjs_version}, Node ${report.node}, ${report.platform}`, '', 'engines:'];
  for (const e of report.engines) {
    const state = e.loads ? 'loads' : e.installed ? 'installed but does not load' : 'not installed';
    const extra = [e.version && `v${e.version}`, e.simd !== undefined && `simd ${e.simd ? 'on' : 'off'}`, e.threads !== undefined && `each op on ${plural(e.threads, 'thread')}`, e.kernels?.length && `our kernels: ${e.kernels.join(', ')}`]
      .filter(Boolean)
      .join(', ');
    lines.push(`  ${e.name.padEnd(9)} ${state}${extra ? ` (${extra})` : ''}${e.error && e.installed && !e.loads ? `\n            ${e.error}` : ''}`);
  }
  lines.push('', `--backend auto picks: ${report.auto}`);
  // Every family has a data-parallel step (src/train/parallel: pair replicas, sequence replicas).
  lines.push(
    `--workers auto trains every model (${BUILT_MODELS.join(', ')}) on ${plural(report.workers_auto, 'thread')} with it (${plural(report.cores, 'core')} available${threadsItself(report.auto) ? '; TensorFlow threads each op itself' : ''}; fewer when a batch has under 1,024 examples a thread); mf and gmf's fused step (their default on cpu and wasm) runs on one, --no-fused trains them on the threads too`,
  );
  lines.push('', 'GPU:');
  lines.push(report.gpu.devices.length ? report.gpu.devices.map((d) => `  ${d}`).join('\n') : '  no GPU visible');
  const r = report.gpu_requirements;
  lines.push('', `GPU engine: ${r.package} needs CUDA ${r.cuda}, cuDNN ${r.cudnn}, NVIDIA driver ${r.driver}.`, '', 'advice:');
  for (const a of report.advice) lines.push(`  - ${a}`);
  return lines.join('\n');
}

export function registerDoctor(program: Command, runtime: Runtime): void {
  const cmd = program
    .command('doctor')
    .summary('which engines load here, and how to enable the GPU one')
    .description('Report which TF.js engines load (tfjs-node-gpu, tfjs-node, wasm, cpu), their versions, GPU devices, and what to install to get the GPU engine.')
    .addHelpText('after', '\nExamples:\n  $ rec doctor\n  $ rec doctor --json');
  addConfigOptions(cmd, 'doctor');
  addGlobalFlags(cmd).action(async (_opts, self: Command) => {
    await runCommand(self, 'doctor', runtime, async (ctx) => {
      const { runDoctor } = await import('../../engine/doctor.js');
      const report = await runDoctor(ctx.log);
      return { result: report, human: describeDoctor(report) };
    });
  });
}
