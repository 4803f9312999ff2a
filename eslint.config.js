// Code rules a machine checks; docs/design.md ("Rules a machine checks") says why they exist and how the
// baseline in eslint-suppressions.json works. The layer rules (who may import whom) live in .dependency-cruiser.cjs.
import js from '@eslint/js';
import { defineConfig, globalIgnores } from 'eslint/config';
import tseslint from 'typescript-eslint';

// The longest a function may be before it stops reading as one list of named steps.
const MAX_FUNCTION_LINES = 100;

export default defineConfig(
  globalIgnores(['dist/', 'node_modules/', 'checkpoints/', 'datasets/', 'bench/results/', '.vitest-tmp/']),
  {
    files: ['**/*.{ts,js,mjs}'],
    // Only the syntax-based rule sets: the type-checked ones would build a whole TypeScript program on every run,
    // and `tsc --noEmit` in `npm test` already checks the types.
    extends: [js.configs.recommended, tseslint.configs.recommended],
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    languageOptions: {
      ecmaVersion: 2022,
      sourceType: 'module',
      // bin/ and the .mjs fixtures are plain JavaScript run by Node; TypeScript files get no-undef from tsc instead.
      globals: { process: 'readonly' },
    },
    rules: {
      // `any` switches the type checker off for everything it touches; use `unknown` and narrow.
      '@typescript-eslint/no-explicit-any': 'error',
      'max-lines-per-function': ['error', { max: MAX_FUNCTION_LINES }],
      // tsc's noUnusedLocals/noUnusedParameters already report these (and know about `_` names and overloads);
      // a second report of the same thing adds nothing.
      '@typescript-eslint/no-unused-vars': 'off',
    },
  },
  {
    // src/engine/tf.ts loads TF.js with require (0.6 s less CPU per process than Node's ESM scan of its bundles);
    // a value import anywhere else would bring the scan back. Type imports cost nothing at run time.
    files: ['src/**/*.ts', 'test/**/*.ts', 'bench/**/*.ts'],
    ignores: ['src/engine/tf.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        { paths: [{ name: '@tensorflow/tfjs', allowTypeImports: true, message: "Take `tf` from src/engine/tf.ts: `import { tf } from '…/engine/tf.js'`." }] },
      ],
    },
  },
  {
    // A describe() block holds many cases and is long by nature; the tests stay free of `any` like the rest.
    files: ['test/**/*.ts'],
    rules: { 'max-lines-per-function': 'off' },
  },
);
