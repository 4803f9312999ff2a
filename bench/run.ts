/**
 * `npm run bench`: every benchmark in one go, each writing its JSON under bench/results/.
 * Run on an otherwise idle machine: on 2 cores any other load skews the timings.
 */
import { runEngineBench } from './engine.js';

async function main(): Promise<void> {
  const quick = process.argv.includes('--quick');
  const engine = await runEngineBench({ quick });
  process.stdout.write(`${JSON.stringify({ engine: { stepCost: engine.stepCost, mf: engine.mf } }, null, 2)}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exitCode = 1;
});
