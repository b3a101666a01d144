/** Targeted working-spec rules: each invalid shape is rejected with the field named. */
import assert from 'node:assert/strict';
import { normaliseScopeEntry, validateWorkingSpec, type SpecValidationResult } from '../../domain/spec';

type Raw = Record<string, unknown>;

/** A minimal valid current-format spec; tests override one thing at a time. */
function spec(overrides: Raw = {}, drop: string[] = []): Raw {
  const raw: Raw = {
    id: 'FEAT-1',
    title: 'A valid spec',
    risk_tier: 2,
    mode: 'feature',
    lifecycle_state: 'active',
    blast_radius: { modules: ['src'], data_migration: false },
    scope: { in: ['src/'], out: ['src/vendor/'] },
    invariants: ['tests stay green'],
    acceptance: [{ id: 'A1', given: 'g', when: 'w', then: 't' }],
    non_functional: {},
    contracts: [{ name: 'api', type: 'api', path: 'docs/api.md' }],
    ...overrides,
  };
  for (const key of drop) delete raw[key];
  return raw;
}

function problemsOf(result: SpecValidationResult): string[] {
  assert.equal(result.ok, false, 'expected rejection');
  return result.ok ? [] : result.problems;
}

function warningsOf(result: SpecValidationResult): string[] {
  if (!result.ok) assert.fail(`expected acceptance, got:\n  ${result.problems.join('\n  ')}`);
  return result.warnings;
}

function hasPrefix(list: string[], prefix: string): void {
  assert.ok(
    list.some((p) => p.startsWith(prefix)),
    `no "${prefix}" in:\n  ${list.join('\n  ')}`,
  );
}

describe('validateWorkingSpec: targeted rules', () => {
  it('accepts the minimal spec cleanly and normalises it', () => {
    const result = validateWorkingSpec(
      spec({ acceptance: [{ id: 'A1', given: 'g', when: 'w', then: 't', test_command: 'npm test' }] }),
    );
    assert.deepEqual(warningsOf(result), []);
    assert.ok(result.ok);
    assert.deepEqual(result.spec.scope, { in: ['src/**'], out: ['src/vendor/**'] });
    assert.deepEqual(result.spec.acceptance, [{ id: 'A1', given: 'g', when: 'w', then: 't', testCommand: 'npm test' }]);
    assert.equal(result.spec.format, 'current');
  });

  it('rejects a non-mapping', () => {
    for (const raw of [null, 'id: x', [1], 42]) hasPrefix(problemsOf(validateWorkingSpec(raw)), '(root):');
  });

  it('rejects a bad or missing risk tier', () => {
    for (const tier of [0, 4, 1.5, 'high', 'T4', null]) {
      hasPrefix(problemsOf(validateWorkingSpec(spec({ risk_tier: tier }))), 'risk_tier: must be 1, 2 or 3');
    }
    hasPrefix(problemsOf(validateWorkingSpec(spec({}, ['risk_tier']))), 'risk_tier: must be 1, 2 or 3 (missing)');
  });

  it('coerces "T1" / "2" with a warning', () => {
    const result = validateWorkingSpec(spec({ risk_tier: '2' }));
    hasPrefix(warningsOf(result), 'risk_tier: "2" read as 2');
  });

  it('rejects a missing or unusable id and title', () => {
    hasPrefix(problemsOf(validateWorkingSpec(spec({}, ['id']))), 'id: required');
    hasPrefix(problemsOf(validateWorkingSpec(spec({ id: '  ' }))), 'id: must not be empty');
    hasPrefix(problemsOf(validateWorkingSpec(spec({ id: 'has space' }))), 'id: must be letters');
    hasPrefix(problemsOf(validateWorkingSpec(spec({ title: 7 }))), 'title: must be a string');
  });

  it('rejects missing acceptance at every tier, empty acceptance at tiers 1 and 2', () => {
    for (const tier of [1, 2, 3])
      hasPrefix(problemsOf(validateWorkingSpec(spec({ risk_tier: tier }, ['acceptance']))), 'acceptance: required');
    hasPrefix(problemsOf(validateWorkingSpec(spec({ acceptance: [] }))), 'acceptance: no acceptance criteria; tier 2');
    hasPrefix(
      warningsOf(validateWorkingSpec(spec({ risk_tier: 3, acceptance: [] }))),
      'acceptance: no acceptance criteria',
    );
  });

  it('names each broken acceptance item by index', () => {
    const problems = problemsOf(
      validateWorkingSpec(
        spec({
          acceptance: [{ id: 'A1', given: 'g', when: 'w' }, { id: 'A1', given: 'g', when: 'w', then: 't' }, 'A3'],
        }),
      ),
    );
    hasPrefix(
      problemsOf(validateWorkingSpec(spec({ acceptance: [{ id: 'A1', given: 'g', when: 'w', then: '' }] }))),
      'acceptance[0].then: must not be empty',
    );
    hasPrefix(problems, 'acceptance[0].then: required');
    hasPrefix(problems, 'acceptance[2]: must be a mapping');
  });

  it('rejects duplicate acceptance ids', () => {
    const item = { id: 'A1', given: 'g', when: 'w', then: 't' };
    hasPrefix(
      problemsOf(validateWorkingSpec(spec({ acceptance: [item, item] }))),
      'acceptance[1].id: duplicate id "A1"',
    );
  });

  // Results are stored and judged by gate name: `AC 1` passing stood for `AC_1` failing.
  it('rejects two acceptance ids whose test commands would run as one gate', () => {
    const item = (id: string, cmd: string) => ({ id, given: 'g', when: 'w', then: 't', test_command: cmd });
    hasPrefix(
      problemsOf(validateWorkingSpec(spec({ acceptance: [item('AC 1', 'true'), item('AC_1', 'false')] }))),
      'acceptance[1].id: "AC_1" names the same gate as "AC 1" (acceptance-AC_1)',
    );
  });

  it('rejects a test_command holding a NUL: no program can be handed one, and the worker was blamed for it', () => {
    const item = { id: 'A1', given: 'g', when: 'w', then: 't', test_command: 'true\0' };
    hasPrefix(
      problemsOf(validateWorkingSpec(spec({ acceptance: [item] }))),
      'acceptance[0].test_command: must not contain a NUL character',
    );
  });

  it('rejects a waiver id listed twice: each listed grant is added to the budget', () => {
    hasPrefix(
      problemsOf(validateWorkingSpec(spec({ waiver_ids: ['WV-0001', 'WV-0001'] }))),
      'waiver_ids[1]: duplicate id "WV-0001"',
    );
  });

  it('rejects a scope key other than in, out and support: an exclusion under another name read as none', () => {
    for (const key of ['exclude', 'Out', 'outs'])
      hasPrefix(
        problemsOf(validateWorkingSpec(spec({ scope: { in: ['src/'], [key]: ['src/secrets/'] } }))),
        `scope: Unrecognized key(s) in object: '${key}'`,
      );
  });

  it('lists every problem, not just the first', () => {
    const problems = problemsOf(
      validateWorkingSpec(spec({ risk_tier: 9, title: '', scope: { in: 'src/' } }, ['id', 'acceptance'])),
    );
    for (const p of [
      'risk_tier:',
      'id: required',
      'title: must not be empty',
      'scope.in: must be a list',
      'acceptance: required',
    ])
      hasPrefix(problems, p);
  });

  it('rejects prose scope at tier 1, naming each entry', () => {
    const problems = problemsOf(
      validateWorkingSpec(
        spec({ risk_tier: 1, scope: { in: ['src/', 'user authentication'], out: ['other packages'] } }),
      ),
    );
    hasPrefix(problems, 'scope.in[1]: "user authentication" is prose, not a path glob; tier 1');
    hasPrefix(problems, 'scope.out[0]: "other packages" is prose');
  });

  it('warns about prose scope at tier 3 and keeps it verbatim but unenforced', () => {
    const result = validateWorkingSpec(
      spec({ risk_tier: 3, scope: { in: ['src/', 'TODO: list files'], out: ['the legacy  module'] } }),
    );
    const warnings = warningsOf(result);
    hasPrefix(warnings, 'scope.in[1]: "TODO: list files" is prose');
    hasPrefix(warnings, 'scope.out[0]: "the legacy module" is prose');
    assert.ok(warnings.some((w) => w.includes('NOT applied')));
    assert.ok(result.ok);
    assert.deepEqual(result.spec.scope, { in: ['src/**'], out: [] });
    assert.deepEqual(result.spec.unenforceableScope, { in: ['TODO: list files'], out: ['the legacy  module'] });
  });

  it('treats an empty enforceable scope.in as a tier-1 problem and a tier-2/3 warning', () => {
    hasPrefix(
      problemsOf(validateWorkingSpec(spec({ risk_tier: 1, scope: { in: [] } }))),
      'scope.in: no enforceable path',
    );
    hasPrefix(
      problemsOf(validateWorkingSpec(spec({ risk_tier: 1 }, ['scope']))),
      'scope.in: no enforceable path (scope is missing)',
    );
    hasPrefix(
      warningsOf(validateWorkingSpec(spec({ scope: { in: null, out: null } }))),
      'scope.in: no enforceable path',
    );
  });

  it('rejects scope paths outside the repository at any tier', () => {
    const problems = problemsOf(
      validateWorkingSpec(spec({ risk_tier: 3, scope: { in: ['/etc/', 'src/../../x'], out: [] } })),
    );
    hasPrefix(problems, 'scope.in[0]: "/etc/" must be relative');
    hasPrefix(problems, 'scope.in[1]:');
  });

  it('warns when scope.in admits the whole repository', () => {
    hasPrefix(warningsOf(validateWorkingSpec(spec({ scope: { in: ['./'] } }))), 'scope.in: admits every path');
  });

  it('requires contracts at tier 1, warns at tier 2, not at tier 3', () => {
    hasPrefix(problemsOf(validateWorkingSpec(spec({ risk_tier: 1, contracts: [] }))), 'contracts: tier 1 requires');
    hasPrefix(warningsOf(validateWorkingSpec(spec({ contracts: [] }))), 'contracts: tier 2 requires');
    assert.deepEqual(warningsOf(validateWorkingSpec(spec({ risk_tier: 3 }, ['contracts']))), []);
  });

  it('validates change_budget in legacy specs and forbids it in current ones', () => {
    const legacy = { threats: [] };
    const ok = validateWorkingSpec(
      spec({ ...legacy, change_budget: { max_files: 3, max_loc: 90 } }, ['lifecycle_state']),
    );
    assert.ok(ok.ok && ok.spec.format === 'legacy');
    assert.deepEqual(ok.ok && ok.spec.changeBudget, { maxFiles: 3, maxLoc: 90 });
    const bad = problemsOf(
      validateWorkingSpec(spec({ ...legacy, change_budget: { max_files: 0, max_loc: 'lots' } }, ['lifecycle_state'])),
    );
    hasPrefix(bad, 'change_budget.max_files: must be greater than 0');
    hasPrefix(bad, 'change_budget.max_loc: must be a number');
    hasPrefix(
      problemsOf(validateWorkingSpec(spec({ change_budget: { max_files: 3, max_loc: 90 } }))),
      'change_budget: not allowed',
    );
  });

  it('allows unknown extra fields (warned in the closed current format)', () => {
    hasPrefix(warningsOf(validateWorkingSpec(spec({ tasks: [{ id: 'T1' }] }))), 'unknown fields ignored: tasks');
    assert.ok(
      validateWorkingSpec(spec({ tasks: [], change_budget: { max_files: 1, max_loc: 1 } }, ['lifecycle_state'])).ok,
    );
  });

  it('enforces the current-format vocabularies only on current specs', () => {
    hasPrefix(problemsOf(validateWorkingSpec(spec({ mode: 'development' }))), 'mode: must be one of');
    hasPrefix(problemsOf(validateWorkingSpec(spec({ lifecycle_state: 'done' }))), 'lifecycle_state: must be one of');
    hasPrefix(
      warningsOf(validateWorkingSpec(spec({ mode: 'development', status: 'draft' }, ['lifecycle_state']))),
      'mode: "development" is not a CAWS mode',
    );
  });

  it('rejects a mode with control characters in a legacy spec too: it is the task type routing records', () => {
    for (const mode of ['feat\u0000ure', 'fix\n', 'a\u007fb'])
      hasPrefix(
        problemsOf(validateWorkingSpec(spec({ mode, status: 'draft' }, ['lifecycle_state']))),
        'mode: must not contain control characters',
      );
    warningsOf(validateWorkingSpec(spec({ mode: 'bug fix', status: 'draft' }, ['lifecycle_state'])));
  });
});

describe('normaliseScopeEntry', () => {
  it('turns CAWS entries into globs', () => {
    assert.deepEqual(normaliseScopeEntry('src/'), ['src/**']);
    assert.deepEqual(normaliseScopeEntry('./docs//api/'), ['docs/api/**']);
    assert.deepEqual(normaliseScopeEntry('packages/quality-gates'), [
      'packages/quality-gates',
      'packages/quality-gates/**',
    ]);
    assert.deepEqual(normaliseScopeEntry('*.md'), ['*.md']);
    assert.deepEqual(normaliseScopeEntry('packages/*/dist/'), ['packages/*/dist/**']);
    assert.deepEqual(normaliseScopeEntry('.'), ['**']);
  });

  // Kept, a `.` name made the glob match no path: scope.out and arbiter.protected excluded nothing.
  it('drops `.` names, so an exclusion written with one still excludes', () => {
    assert.deepEqual(normaliseScopeEntry('src/./secrets/'), ['src/secrets/**']);
    assert.deepEqual(normaliseScopeEntry('src/secrets/.'), ['src/secrets', 'src/secrets/**']);
    assert.deepEqual(normaliseScopeEntry('./test/fixtures/.'), ['test/fixtures', 'test/fixtures/**']);
    assert.deepEqual(normaliseScopeEntry('/etc'), ['/etc', '/etc/**'], 'an absolute path stays one');
  });
});
