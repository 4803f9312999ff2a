// The layer rules of src/, checked by dependency-cruiser (`npm run lint`); docs/design.md ("Rules a machine checks")
// says how to run them and how the baseline in .dependency-cruiser-known-violations.json works.
//
// The layers, from the bottom up (a layer may import the ones below it, never the ones above):
//   src/util                            errors, prng, logging, numbers: knows nothing of the product
//   src/config                          the config schema and loader
//   src/engine                          TF.js backends, kernels, the sparse optimizer
//   src/io  src/data                    files on disk (atomic writes, the checkpoint folder), datasets and prep
//   src/models                          the model families
//   src/train  src/eval                 training and evaluation
//   src/recommend src/report src/runs   what the commands do with a trained model or a run folder
//   src/promote src/drift src/tune      (tune: studies of training runs, rec tune)
//   src/cli                             commander wiring: parses, calls one of the above, prints, sets the exit code
// Only the rules below are enforced; the order above is the direction they protect.

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment:
        'Modules that import each other cannot be understood, tested or loaded one without the other, and ESM ' +
        'evaluates one of them half-initialised. Move what both need into a third module below them.',
      from: {},
      to: { circular: true },
    },
    {
      name: 'cli-is-the-top',
      severity: 'error',
      comment:
        'src/cli only parses flags, calls library functions, prints and sets exit codes. A library module that ' +
        'imports it would pull commander and process handling into every library caller (bench, tests, other ' +
        'programs). Tests may import cli modules to test them.',
      from: { path: '^(src|bench|bin)/', pathNot: '^src/cli/' },
      to: { path: '^src/cli/' },
    },
    {
      name: 'foundations-below-models',
      severity: 'error',
      comment:
        'src/io, src/data and src/engine are the foundations models, training and evaluation build on: files, ' +
        'datasets and TF.js backends. If they import a model, the trainer or the evaluator, reading a checkpoint ' +
        'or a dataset loads TF.js models, and a new model family has to touch the foundations.',
      from: { path: '^src/(io|data|engine)/' },
      to: { path: '^src/(models|train|eval)/' },
    },
    {
      name: 'tune-is-a-top-layer',
      severity: 'error',
      comment:
        'src/tune runs studies of trials (rec tune): it builds on training, evaluation, config, io, data and models. ' +
        'Only the CLI and the benchmarks drive a study; a library layer that imported it would pull child processes ' +
        'and the study folder into every caller.',
      from: { path: '^src/', pathNot: '^src/(cli|tune)/' },
      to: { path: '^src/tune/' },
    },
    {
      name: 'tune-imports-below-it',
      severity: 'error',
      comment: 'A study composes the layers below it; it never reaches into commands (report, runs, recommend, promote, drift).',
      from: { path: '^src/tune/' },
      to: { path: '^src/(recommend|report|runs|promote|drift)/' },
    },
    {
      name: 'util-is-the-bottom',
      severity: 'error',
      comment:
        'src/util holds helpers every layer uses (errors, prng, logging); importing any other layer from it would ' +
        'make every layer depend on that one.',
      from: { path: '^src/util/' },
      to: { path: '^src/', pathNot: '^src/util/' },
    },
    {
      name: 'native-engine-only-in-engine',
      severity: 'error',
      comment:
        '@tensorflow/tfjs-node and -gpu are optional native packages: src/engine loads them lazily and falls back ' +
        'to wasm/cpu when they are missing. A static import anywhere else would make the CLI fail to start without ' +
        'them.',
      from: { pathNot: '^src/engine/' },
      to: { path: '(^|/)@tensorflow/tfjs-node(-gpu)?(/|$)' },
    },
    {
      name: 'no-dev-deps-in-shipped-code',
      severity: 'error',
      comment:
        'src/ is compiled into the published package, which installs only "dependencies"; importing a ' +
        'devDependency (vitest, typescript, eslint...) from src/ breaks `rec` for everyone who installs it.',
      from: { path: '^src/' },
      to: { dependencyTypes: ['npm-dev'], dependencyTypesNot: ['type-only'] },
    },
  ],
  options: {
    // Type-only imports count: a layer that needs another layer's types depends on it just the same.
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^(dist|node_modules|checkpoints|datasets)/' },
    // Node's "exports" maps (csv-parse/sync, vitest/config) resolve only with these conditions.
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
      mainFields: ['module', 'main', 'types', 'typings'],
    },
    skipAnalysisNotInRules: true,
  },
};
