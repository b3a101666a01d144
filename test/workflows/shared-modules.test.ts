/**
 * The modules every workflow shares (workflows/shared-modules.ts): each domain module workflow
 * code imports is among them, so a new import does not quietly bring back a copy per cached run,
 * and every zod object schema the SDK will freeze has its lazy cache filled first (a frozen
 * schema with an empty cache throws on its first parse). The lifecycle suites run through the
 * same bundle, so their paths prove the frozen modules work.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { projectRoot } from '../../client/paths';

const workflowsDir = path.join(projectRoot(), 'workflows');

/** The modules outside workflows/ that workflow code imports values from (`import type` excluded). */
function valueImportsOfWorkflows(): Set<string> {
  const found = new Set<string>();
  for (const file of readdirSync(workflowsDir).filter((f) => f.endsWith('.ts') && f !== 'shared-modules.ts')) {
    const source = readFileSync(path.join(workflowsDir, file), 'utf8');
    for (const [, clause, from] of source.matchAll(/^import\s+(type\s+)?[^;]*?from\s+'(\.\.\/[^']+)';/gms))
      if (!clause) found.add(from);
  }
  return found;
}

/** What the freeze would find, before and after shared-modules.js prepares it. */
interface FreezeView {
  schemas: number;
  coldBefore: number;
  coldAfter: number;
  regexChecksBefore: number;
  regexChecksAfter: number;
  sharedRegexesWritten: number;
}

/**
 * In a fresh process (this one's modules have parsed with many schemas already): loads
 * `modules`, then shared-modules.js, and walks the exports of every module either load brought
 * in the way the SDK's freeze walks them (own properties of objects, read as properties; not
 * into functions; not past what is frozen already). Counts the zod object and enum schemas with
 * an empty cache and the regex checks whose pattern is one shared RegExp, before and after
 * shared-modules.js prepared them, and the global or sticky RegExps, which any use writes.
 */
function freezeView(modules: string[]): FreezeView {
  const script = `
    const known = new Set(Object.keys(require.cache));
    const { ZodEnum, ZodNativeEnum, ZodObject, ZodString } = require('zod');
    ${JSON.stringify(modules)}.forEach((m) => require(m));
    const walk = (value, visit, seen) => {
      if (value === null || (typeof value !== 'object' && typeof value !== 'function') || seen.has(value)) return;
      seen.add(value);
      visit(value);
      if (typeof value !== 'object' || Object.isFrozen(value)) return;
      for (const key of Reflect.ownKeys(value)) {
        let property;
        try { property = value[key]; } catch { continue; }
        walk(property, visit, seen);
      }
    };
    const count = () => {
      let all = 0, cold = 0, regexChecks = 0, written = 0;
      const seen = new Set();
      for (const [file, mod] of Object.entries(require.cache)) {
        if (known.has(file)) continue;
        walk(mod.exports, (v) => {
          if (v instanceof RegExp && (v.global || v.sticky)) written++;
          if (v instanceof ZodObject && (all++, v._cached === null)) cold++;
          if ((v instanceof ZodEnum || v instanceof ZodNativeEnum) && !v._cache) cold++;
          if (v instanceof ZodString)
            for (const check of v._def.checks) if (check.kind === 'regex' && check.regex === check.regex) regexChecks++;
        }, seen);
      }
      return { all, cold, regexChecks, written };
    };
    const before = count();
    require(${JSON.stringify(path.join(projectRoot(), 'lib', 'workflows', 'shared-modules.js'))});
    const after = count();
    console.log(JSON.stringify({ schemas: before.all, coldBefore: before.cold, coldAfter: after.cold,
      regexChecksBefore: before.regexChecks, regexChecksAfter: after.regexChecks, sharedRegexesWritten: after.written }));`;
  return JSON.parse(execFileSync(process.execPath, ['-e', script], { cwd: projectRoot(), encoding: 'utf8' }));
}

describe('workflows: modules shared by every workflow', () => {
  const shared = readFileSync(path.join(workflowsDir, 'shared-modules.ts'), 'utf8');
  const sharedImports = new Set([...shared.matchAll(/from '(\.\.\/[^']+)'/g)].map((m) => m[1]));

  it('include every module outside workflows/ that workflow code imports', () => {
    const imports = valueImportsOfWorkflows();
    assert.ok(imports.has('../domain/activity-io'), 'the scan finds imports at all');
    const missing = [...imports].filter((m) => !sharedImports.has(m));
    assert.deepEqual(missing, [], 'add these to workflows/shared-modules.ts');
  });

  it('leave nothing the freeze reaches that zod or a regex writes while parsing', () => {
    const modules = [...sharedImports].map((m) => path.join(projectRoot(), 'lib', 'workflows', m));
    const view = freezeView(modules);
    assert.ok(view.schemas > 20 && view.coldBefore > 20, JSON.stringify(view));
    assert.ok(view.regexChecksBefore > 0, JSON.stringify(view));
    assert.deepEqual(
      { coldAfter: view.coldAfter, regexChecksAfter: view.regexChecksAfter, written: view.sharedRegexesWritten },
      { coldAfter: 0, regexChecksAfter: 0, written: 0 },
    );
  });
});
