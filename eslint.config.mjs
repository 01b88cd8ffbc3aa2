// @ts-check
import js from '@eslint/js';
import pluginVue from 'eslint-plugin-vue';
import tseslint from 'typescript-eslint';

const NODE_ONLY = ['node:*', 'fs', 'path', 'child_process', 'os', 'zlib', 'crypto', 'net', 'http'];
const pure = (extra = []) => ({
  'no-restricted-imports': [
    'error',
    {
      patterns: [
        { group: NODE_ONLY, message: 'This layer is pure: no Node built-ins.' },
        { group: ['electron'], message: 'Only main/electron/ imports electron.' },
        { group: ['@tensorflow/*'], message: 'This layer is pure: no tfjs.' },
        { group: ['better-sqlite3'], message: 'This layer is pure: no database.' },
        ...extra,
      ],
    },
  ],
});

export default tseslint.config(
  { ignores: ['node_modules/', 'out/', 'dist/', 'coverage/', 'test-results/', 'renderer/dist/'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
      // Node-style code talks to untyped JSON a lot; explicit casts are reviewed instead.
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      // Handlers and IOHandlers are async by contract even when their body is synchronous.
      '@typescript-eslint/require-await': 'off',
      '@typescript-eslint/restrict-template-expressions': [
        'error',
        { allowNumber: true, allowBoolean: true },
      ],
    },
  },
  {
    files: ['**/*.mjs', '**/*.js'],
    ...tseslint.configs.disableTypeChecked,
  },
  // Vue single-file components: the essential (non-stylistic, Prettier formats) Vue rules, with the
  // TypeScript parser for <script lang="ts"> and the same typed rules as .ts files.
  ...pluginVue.configs['flat/essential'],
  {
    files: ['**/*.vue'],
    languageOptions: {
      parserOptions: { parser: tseslint.parser, extraFileExtensions: ['.vue'], projectService: true },
    },
    rules: {
      // Component names are PascalCase file names (Editor.vue, Inspector.vue) by house style.
      'vue/multi-word-component-names': 'off',
      // TypeScript checks names; the core rule does not know DOM or Vue globals.
      'no-undef': 'off',
    },
  },
  // Everything outside main/electron/ (and preload/index.ts) must not import electron.
  {
    files: ['main/**/*.ts'],
    ignores: ['main/electron/**'],
    rules: {
      'no-restricted-imports': [
        'error',
        { patterns: [{ group: ['electron'], message: 'Only main/electron/ imports electron.' }] },
      ],
    },
  },
  {
    files: [
      'main/base/**/*.ts',
      'main/pipeline/**/*.ts',
      'main/nodes/**/*.ts',
      'preload/contract.ts',
      // Shared by the engine and the editor: it runs in both, so it may use neither side's APIs.
      'preload/graph-rules.ts',
    ],
    rules: pure(),
  },
  // The worker imports the contract, main/base, main/nodes (pure), the exporters and its own files:
  // never the runner, the registry, the pipeline engine, the transports or the renderer.
  {
    files: ['main/worker/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { group: ['electron'], message: 'Only main/electron/ imports electron.' },
            {
              group: [
                '**/registry/**',
                '**/jobs/**',
                '**/api/**',
                '**/app/**',
                '**/pipeline/**',
                '**/serve/**',
                '**/cli/**',
                '**/cli',
                '**/electron/**',
                '**/renderer/**',
                '**/preload/*',
                '!**/preload/contract',
              ],
              message:
                'The worker imports only the contract, main/base, main/nodes, main/export and its own files.',
            },
          ],
        },
      ],
    },
  },
  // The runner talks to the worker only through its protocol.
  {
    files: ['main/jobs/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { group: ['electron'], message: 'Only main/electron/ imports electron.' },
            {
              group: ['**/worker/*', '!**/worker/protocol'],
              message: 'jobs/ imports worker/protocol.ts only.',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['renderer/**/*.ts', 'renderer/**/*.vue'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { group: ['**/main/**'], message: 'The renderer reaches main only through src/api/.' },
            { group: ['electron'], message: 'Only main/electron/ imports electron.' },
          ],
        },
      ],
    },
  },
);
