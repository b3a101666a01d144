/**
 * The lint config is part of the architecture: workflows/** must stay deterministic and domain/**
 * pure. These tests prove (a) the tree lints clean, (b) the purity rules are live for workflows/
 * and domain/, and (c) they are scoped — activities/ may do I/O. Removing eslint.config.mjs or
 * switching a purity rule off makes them fail.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { ESLint, type Linter } from 'eslint';

/** Walk up from this (compiled) file to the directory whose package.json is "arbiter". */
function findRoot(): string {
  let dir = __dirname;
  for (;;) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg) && (JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'arbiter') return dir;
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`no package.json named "arbiter" above ${__dirname}`);
    dir = parent;
  }
}

const root = findRoot();
const PURITY_RULES = new Set(['no-restricted-imports', 'no-restricted-globals', 'no-restricted-syntax']);

function describeMessages(messages: Linter.LintMessage[]): string {
  return messages.map((m) => `  ${m.line}:${m.column} ${m.ruleId ?? '(fatal)'} ${m.message}`).join('\n') || '  (none)';
}

/** Lint `code` as if it were the file `relPath` (which need not exist). Returns error messages only. */
async function lintAs(eslint: ESLint, relPath: string, code: string): Promise<Linter.LintMessage[]> {
  const [result] = await eslint.lintText(code, { filePath: join(root, relPath) });
  assert.ok(result, `no lint result for ${relPath}`);
  return result.messages.filter((m) => m.severity === 2);
}

/** Each sample uses what it imports, so only a purity rule can object to it. */
const FORBIDDEN: Array<[label: string, code: string]> = [
  ['node:fs', "import { readFileSync } from 'node:fs';\nexport const f = readFileSync;\n"],
  ['fs', "import { readFileSync } from 'fs';\nexport const f = readFileSync;\n"],
  ['fs/promises', "import { readFile } from 'fs/promises';\nexport const f = readFile;\n"],
  ['child_process', "import { spawn } from 'child_process';\nexport const f = spawn;\n"],
  ['node:crypto', "import { randomUUID } from 'node:crypto';\nexport const f = randomUUID;\n"],
  ['node:test (node:-only)', "import { test } from 'node:test';\nexport const f = test;\n"],
  ['winston', "import winston from 'winston';\nexport const f = winston;\n"],
  ['drizzle-orm', "import { eq } from 'drizzle-orm';\nexport const f = eq;\n"],
  ['drizzle-orm/node-postgres', "import { drizzle } from 'drizzle-orm/node-postgres';\nexport const f = drizzle;\n"],
  ['pg', "import { Pool } from 'pg';\nexport const f = Pool;\n"],
  ['@temporalio/activity', "import { Context } from '@temporalio/activity';\nexport const f = Context;\n"],
  ['@temporalio/client', "import { Client } from '@temporalio/client';\nexport const f = Client;\n"],
  ['@temporalio/worker', "import { Worker } from '@temporalio/worker';\nexport const f = Worker;\n"],
  [
    'value import from ../activities',
    "import { createActivities } from '../activities';\nexport const f = createActivities;\n",
  ],
  ['value import from ../host/git', "import { git } from '../host/git';\nexport const f = git;\n"],
  ['value import from ../db/client', "import { db } from '../db/client';\nexport const f = db;\n"],
  ['value re-export from ../db', "export { db } from '../db';\n"],
  ['process.env', 'export const f = process.env.HOME;\n'],
  ['require', 'export const f = require.cache;\n'],
  ['__dirname', 'export const f = __dirname;\n'],
  ['Buffer', "export const f = Buffer.from('x');\n"],
  ['dynamic import()', "export const f = () => import('fs');\n"],
];

const ALLOWED: Array<[label: string, code: string]> = [
  [
    'import type from ../activities',
    "import type { ArbiterActivities } from '../activities';\nexport type A = ArbiterActivities;\n",
  ],
  [
    'inline type import from ../activities',
    "import { type ArbiterActivities } from '../activities';\nexport type A = ArbiterActivities;\n",
  ],
  [
    '@temporalio/common',
    "import { ApplicationFailure } from '@temporalio/common';\nexport const f = ApplicationFailure;\n",
  ],
  ['zod', "import { z } from 'zod';\nexport const f = z;\n"],
  ['sibling domain module', "import { decideOutcome } from '../domain/verdict';\nexport const f = decideOutcome;\n"],
  ['setTimeout', 'export const f = () => setTimeout(() => undefined, 10);\n'],
];

const WORKFLOW_API = "import { proxyActivities } from '@temporalio/workflow';\nexport const f = proxyActivities;\n";

describe('lint: eslint.config.mjs', function () {
  this.timeout(120_000);
  let eslint: ESLint;

  before(() => {
    assert.ok(existsSync(join(root, 'eslint.config.mjs')), 'eslint.config.mjs is missing');
    eslint = new ESLint({ cwd: root });
  });

  it('the whole project lints with zero errors', async () => {
    const results = await eslint.lintFiles(['.']);
    const failing = results.filter((r) => r.errorCount > 0 || r.fatalErrorCount > 0);
    const report = failing
      .map((r) => `${relative(root, r.filePath)}\n${describeMessages(r.messages.filter((m) => m.severity === 2))}`)
      .join('\n');
    assert.equal(failing.length, 0, `lint errors:\n${report}`);
    assert.ok(
      results.some((r) => r.filePath === join(root, 'workflows', 'index.ts')),
      'workflows/ was not linted',
    );
  });

  for (const dir of ['workflows', 'domain', 'workflows/nested'] as const) {
    const file = `${dir}/purity-sample.ts`;
    // From workflows/nested/, the impure layers are two levels up.
    const adjust = (code: string): string => (dir === 'workflows/nested' ? code.replace(/'\.\.\//g, "'../../") : code);

    describe(`purity under ${dir}/`, () => {
      for (const [label, code] of FORBIDDEN) {
        it(`forbids ${label}`, async () => {
          const errors = await lintAs(eslint, file, adjust(code));
          assert.ok(errors.length > 0, `expected a purity error for ${label} in ${file}`);
          assert.ok(
            errors.every((m) => m.ruleId !== null && PURITY_RULES.has(m.ruleId)),
            `unexpected errors for ${label}:\n${describeMessages(errors)}`,
          );
          assert.match(errors[0]!.message, /deterministic|pure|domain/, 'restriction message should say why');
        });
      }
      for (const [label, code] of ALLOWED) {
        it(`allows ${label}`, async () => {
          const errors = await lintAs(eslint, file, adjust(code));
          assert.deepEqual(errors, [], `unexpected errors for ${label}:\n${describeMessages(errors)}`);
        });
      }
      if (dir === 'domain') {
        it('forbids @temporalio/workflow', async () => {
          const errors = await lintAs(eslint, file, WORKFLOW_API);
          assert.ok(errors.length > 0, 'domain code must not import @temporalio/workflow');
          assert.ok(
            errors.every((m) => m.ruleId === 'no-restricted-imports'),
            describeMessages(errors),
          );
        });
        it('forbids value imports from ../workflows but allows import type', async () => {
          const value = await lintAs(
            eslint,
            file,
            "import { cancelSignal } from '../workflows/definitions';\nexport const f = cancelSignal;\n",
          );
          assert.ok(value.length > 0, 'domain code must not import workflows/');
          const typeOnly = await lintAs(
            eslint,
            file,
            "import type { TaskRun } from '../workflows/task-run';\nexport type T = TaskRun;\n",
          );
          assert.deepEqual(typeOnly, [], describeMessages(typeOnly));
        });
      } else {
        it('allows @temporalio/workflow', async () => {
          const errors = await lintAs(eslint, file, WORKFLOW_API);
          assert.deepEqual(errors, [], describeMessages(errors));
        });
      }
    });
  }

  it('workflows check patches through workflows/patches.ts only (one marker a run), and keep their purity there', async () => {
    const code = "import { patched } from '@temporalio/workflow';\nexport const p = () => patched('x');\n";
    const elsewhere = await lintAs(eslint, 'workflows/purity-sample.ts', code);
    assert.deepEqual(
      elsewhere.map((m) => m.ruleId),
      ['no-restricted-imports'],
      describeMessages(elsewhere),
    );
    assert.match(elsewhere[0]!.message, /hasPatch/);
    assert.deepEqual(await lintAs(eslint, 'workflows/patches.ts', code), []);
    const impure = await lintAs(
      eslint,
      'workflows/purity-sample.ts',
      "import * as fs from 'node:fs';\nexport const f = fs;\n",
    );
    assert.ok(impure.length > 0, 'the patch rule must not replace the purity rule');
  });

  describe('scoping: activities/ may do I/O', () => {
    for (const [label, code] of [...FORBIDDEN, [' @temporalio/workflow', WORKFLOW_API] as [string, string]]) {
      it(`allows ${label.trim()}`, async () => {
        const errors = await lintAs(eslint, 'activities/purity-sample.ts', code);
        assert.deepEqual(errors, [], `unexpected errors for ${label} in activities/:\n${describeMessages(errors)}`);
      });
    }
  });
});
