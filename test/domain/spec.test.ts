/**
 * The CAWS corpus read the way a CAWS user expects: every real spec accepted and
 * normalised, the known-bad one rejected with each problem named.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { isPathGlob, validateWorkingSpec, type WorkingSpec } from '../../domain/spec';

// Tests compile to lib/test/domain/*.test.js; the fixtures stay in the source tree.
const CORPUS = path.resolve(__dirname, '../../../test/fixtures/caws-corpus');

/**
 * Two files in specs/ are not current-format specs: they are CAWS v10 CLI scaffolds
 * (`status`, `type`, `acceptance_criteria`, `mode: development`, no `lifecycle_state`),
 * and the CAWS project itself keeps them as negative fixtures for its current schema.
 * They load as legacy specs; any other file in specs/ must be detected as current.
 */
const LEGACY_IN_SPECS = new Set(['cli-test-feature.yaml', 'cli-ACVERIFY-001.yaml']);

function load(rel: string): unknown {
  return YAML.parse(fs.readFileSync(path.join(CORPUS, rel), 'utf8'));
}

function yamlFiles(folder: string): string[] {
  const files = fs
    .readdirSync(path.join(CORPUS, folder))
    .filter((f) => /\.ya?ml$/.test(f))
    .sort();
  assert.ok(files.length > 0, `no YAML files in ${folder}`);
  return files;
}

function accept(
  raw: unknown,
  options?: Parameters<typeof validateWorkingSpec>[1],
): { spec: WorkingSpec; warnings: string[] } {
  const result = validateWorkingSpec(raw, options);
  if (!result.ok) assert.fail(`rejected:\n  ${result.problems.join('\n  ')}`);
  return { spec: result.spec, warnings: result.warnings };
}

function assertNormalised(spec: WorkingSpec, warnings: string[]): void {
  assert.ok(spec.id.trim() !== '', 'id');
  assert.ok(spec.title.trim() !== '', 'title');
  assert.ok([1, 2, 3].includes(spec.riskTier), 'riskTier');
  assert.ok(spec.mode.trim() !== '', 'mode');
  for (const glob of [...spec.scope.in, ...spec.scope.out]) {
    assert.ok(isPathGlob(glob), `normalised scope entry ${glob} is a path glob`);
    assert.ok(!glob.endsWith('/'), `scope entry ${glob} normalised`);
  }
  // Never silently allow everything: an empty allow-list is always called out.
  if (spec.scope.in.length === 0)
    assert.ok(
      warnings.some((w) => w.startsWith('scope.in:')),
      'empty scope.in warned',
    );
  // Every prose entry is reported by name.
  const proseCount = spec.unenforceableScope.in.length + spec.unenforceableScope.out.length;
  assert.equal(
    warnings.filter((w) => / is prose, not a path glob/.test(w)).length,
    proseCount,
    'one warning per prose entry',
  );
}

describe('CAWS corpus: current-format specs (specs/)', () => {
  for (const file of yamlFiles('specs')) {
    it(`accepts and normalises ${file}`, () => {
      const raw = load(`specs/${file}`);
      const { spec, warnings } = accept(raw);
      assertNormalised(spec, warnings);
      assert.equal(spec.format, LEGACY_IN_SPECS.has(file) ? 'legacy' : 'current');
      assert.equal(spec.changeBudget, undefined, 'current specs take the budget from policy');
      if (spec.format === 'current') {
        assert.ok(spec.scope.in.length > 0, 'scope.in populated');
        accept(raw, { format: 'current' }); // also passes the strict current-format rules
      }
    });
  }
});

describe('CAWS corpus: legacy-format specs (legacy-working-specs/)', () => {
  for (const file of yamlFiles('legacy-working-specs')) {
    it(`accepts and normalises ${file}`, () => {
      const { spec, warnings } = accept(load(`legacy-working-specs/${file}`));
      assertNormalised(spec, warnings);
      assert.equal(spec.format, 'legacy');
      assert.ok(spec.scope.in.length + spec.unenforceableScope.in.length > 0, 'scope.in populated');
    });
  }

  it('keeps change_budget, waiver ids and blast radius', () => {
    const { spec } = accept(load('legacy-working-specs/caws_working-spec@f9718c68.yaml'));
    assert.deepEqual(spec.changeBudget, { maxFiles: 50, maxLoc: 5000 });
    assert.deepEqual(spec.waiverIds, ['WV-0001']);
    assert.deepEqual(spec.blastRadius, { modules: ['core', 'caws-cli', 'quality-gates'], dataMigration: true });
    assert.deepEqual(spec.scope.in, ['.caws/**', 'packages/caws-cli/src/**', 'packages/caws-cli/templates/**']);
    assert.equal(spec.riskTier, 1);
  });

  it('reports prose-only scope (PROJECT-001 demo) and admits nothing', () => {
    const { spec, warnings } = accept(
      load('legacy-working-specs/packages_caws-cli_demo-project_.caws_working-spec@38202513.yaml'),
    );
    assert.deepEqual(spec.scope, { in: [], out: [] });
    assert.deepEqual(spec.unenforceableScope, {
      in: ['user authentication', 'api endpoints'],
      out: ['legacy authentication', 'deprecated endpoints'],
    });
    for (const p of ['scope.in[0]', 'scope.in[1]', 'scope.out[0]', 'scope.out[1]']) {
      assert.ok(
        warnings.some((w) => w.startsWith(`${p}:`)),
        `warning names ${p}`,
      );
    }
    assert.ok(warnings.some((w) => w.startsWith('scope.in: no enforceable path')));
  });

  it('warns about the empty placeholder contract of the tier-1 FEAT-0001', () => {
    const { spec, warnings } = accept(load('legacy-working-specs/test-monorepo_.caws_working-spec@4e93c338.yaml'));
    assert.equal(spec.riskTier, 1);
    assert.ok(warnings.includes('contracts[0]: empty placeholder (no name, type or path)'));
  });
});

describe('CAWS corpus: corpus oddities', () => {
  it('reads the v10 scaffold cli-test-feature (risk_tier "T3", no scope) fail-closed', () => {
    const { spec, warnings } = accept(load('specs/cli-test-feature.yaml'));
    assert.equal(spec.riskTier, 3);
    assert.deepEqual(spec.scope.in, []);
    assert.ok(warnings.some((w) => w.startsWith('risk_tier: "T3" read as 3')));
    assert.ok(warnings.some((w) => w.includes('scope is missing')));
  });

  it('warns, at tier 2, about a real spec without contracts', () => {
    const { spec, warnings } = accept(load('specs/QUALITY-GATES-HOOKS-MIGRATION-PLAN-001.yaml'));
    assert.equal(spec.riskTier, 2);
    assert.ok(warnings.some((w) => w.startsWith('contracts: tier 2 requires at least one contract')));
  });

  it('names a TODO placeholder in scope.in and keeps the real paths', () => {
    const { spec, warnings } = accept(load('specs/CAWS-REMOVE-PREPUSH-COMMAND-001.yaml'));
    assert.equal(spec.unenforceableScope.in.length, 1);
    assert.ok(spec.scope.in.includes('packages/caws-cli/src/shell/commands/prepush.ts'));
    assert.ok(warnings.some((w) => w.startsWith('scope.in[0]: "TODO: list')));
  });

  it('merges scope.support into the admitted paths', () => {
    const { spec } = accept(load('specs/CAWS-SPEC-ACTIVATION-BINDS-001.yaml'));
    assert.ok(spec.scope.in.includes('README.md') && spec.scope.in.includes('CLAUDE.md'));
  });
});

describe('CAWS corpus: negative fixture', () => {
  const NEGATIVE = 'negative/dx-improvements-working-spec.yaml';

  it('is byte-identical to a legacy spec, so only the current-format reading can reject it', () => {
    // CAWS keeps it as a negative fixture for its *current* schema: a live spec still
    // carrying change_budget. Read as legacy (auto-detection) the same bytes are valid.
    const legacy = fs.readFileSync(
      path.join(CORPUS, 'legacy-working-specs/caws_dx-improvements-working-spec@036514fd.yaml'),
    );
    assert.ok(fs.readFileSync(path.join(CORPUS, NEGATIVE)).equals(legacy));
    assert.equal(accept(load(NEGATIVE)).spec.format, 'legacy');
  });

  it('is rejected as a current-format spec, naming each problem', () => {
    const result = validateWorkingSpec(load(NEGATIVE), { format: 'current' });
    assert.equal(result.ok, false);
    const problems = result.ok ? [] : result.problems;
    const expected = [
      'lifecycle_state: required',
      'change_budget: not allowed',
      'threats: legacy-format field',
      'migrations: legacy-format field',
      'observability: must be a list',
      ...[0, 1, 2].flatMap((i) => [`contracts[${i}].name: required`, `contracts[${i}].type: must be one of`]),
      'non_functional.a11y:',
      'non_functional.perf:',
      'non_functional.dx:',
    ];
    for (const prefix of expected)
      assert.ok(
        problems.some((p) => p.startsWith(prefix)),
        `missing problem "${prefix}" in:\n${problems.join('\n')}`,
      );
    assert.equal(problems.length, expected.length, problems.join('\n'));
  });

  it('is rejected without asking when it also claims the current format (lifecycle_state)', () => {
    const raw = { ...(load(NEGATIVE) as Record<string, unknown>), lifecycle_state: 'active' };
    const result = validateWorkingSpec(raw);
    assert.equal(result.ok, false);
    assert.ok(!result.ok && result.problems.some((p) => p.startsWith('change_budget: not allowed')));
  });
});
