/** CAWS repository policies: both corpus formats load; malformed ones are refused naming the field. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { parse } from 'yaml';
import { projectRoot } from '../../client/paths';
import { PolicyInvalidError } from '../../domain/errors';
import { specGate } from '../../domain/change-gates';
import { DEFAULT_REPO_POLICY, gateNameClashes, normaliseRepoPolicy, policyRefusals } from '../../domain/repo-policy';
import type { WorkingSpec } from '../../domain/spec';

const KiB = 1024;
const MiB = 1024 * KiB;

const corpus = (file: string) =>
  readFileSync(path.join(projectRoot(), 'test/fixtures/caws-corpus/policies', file), 'utf8');

describe('repository policy', () => {
  it('loads the current CAWS policy.yaml: budgets, gate modes, approvers', () => {
    const policy = normaliseRepoPolicy(parse(corpus('caws-head-policy.yaml')));
    assert.equal(policy.source, 'current');
    assert.deepEqual(policy.tiers, {
      1: { maxFiles: 10, maxLoc: 250, maxBytes: KiB * 256 },
      2: { maxFiles: 100, maxLoc: 10000, maxBytes: MiB * 8 },
      3: { maxFiles: 500, maxLoc: 40000, maxBytes: MiB * 32 },
    });
    assert.equal(policy.allowSymlinks, false);
    assert.equal(policy.gateModes.budget, 'block');
    assert.equal(policy.gateModes.scope, 'block');
    assert.equal(policy.gateModes.spec, 'block');
    assert.equal(policy.gateModes.god_object, 'warn');
    assert.deepEqual(policy.waivers, {
      enabled: true,
      minApprovers: { 1: 2, 2: 2, 3: 2 },
      windowHours: 24,
      maxExpiryDays: 90,
    });
    assert.deepEqual(policy.commands, []);
  });

  // Found in review: the schema's `edit_rules` quorum was dropped, and one approver granted a raise it said needs two.
  it('takes the waiver quorum from edit_rules (CAWS’s earlier place for it) too, the larger of the two', () => {
    const quorum = (doc: Record<string, unknown>) =>
      normaliseRepoPolicy({ version: 1, waivers: { max_expiry_days: 7 }, ...doc }).waivers.minApprovers;
    const editRules = (n: number) => ({ policy_and_code_same_pr: false, min_approvers_for_budget_raise: n });
    assert.deepEqual(quorum({ edit_rules: editRules(2) }), { 1: 2, 2: 2, 3: 2 });
    assert.deepEqual(quorum({ edit_rules: editRules(3), waivers: { min_approvers_for_budget_raise: 2 } }), {
      1: 3,
      2: 3,
      3: 3,
    });
    assert.deepEqual(quorum({ edit_rules: editRules(1), waivers: { min_approvers_for_budget_raise: 2 } }), {
      1: 2,
      2: 2,
      3: 2,
    });
    assert.throws(() => quorum({ edit_rules: editRules(0) }), PolicyInvalidError);
  });

  it('loads the legacy tier-policy.json', () => {
    const policy = normaliseRepoPolicy(JSON.parse(corpus('legacy-tier-policy.json')));
    assert.equal(policy.source, 'legacy');
    assert.deepEqual(policy.tiers, {
      1: { maxFiles: 40, maxLoc: 1500, maxBytes: KiB * 256 },
      2: { maxFiles: 25, maxLoc: 1000, maxBytes: MiB * 8 },
      3: { maxFiles: 15, maxLoc: 600, maxBytes: MiB * 32 },
    });
    assert.deepEqual(policy.tierRules?.[1], {
      allowedModes: ['feature', 'refactor', 'fix'],
      requiresContracts: true,
      unenforced: ['a manual review', 'branch coverage of 0.9', 'a mutation score of 0.7'],
    });
  });

  // Found in review: only the budgets were read, and a tier-2 chore with no contract was signed PASS.
  it("holds the spec to a legacy tier's modes and contracts, and names what no gate enforces", () => {
    const policy = normaliseRepoPolicy(JSON.parse(corpus('legacy-tier-policy.json')));
    const spec = (riskTier: 1 | 2 | 3, mode: string, contracts: Array<Record<string, unknown>> = []) =>
      ({ riskTier, mode, contracts }) as Pick<WorkingSpec, 'riskTier' | 'mode' | 'contracts'>;
    const chore = specGate(spec(2, 'chore'), [], policy);
    assert.equal(chore.status, 'fail');
    assert.match(
      chore.detail,
      /mode 'chore' is not one tier 2 allows \(feature, refactor, fix\); tier 2 requires a contract/,
    );
    const feature = specGate(spec(2, 'feature', [{ name: 'api', type: 'openapi', path: 'api.yaml' }]), [], policy);
    assert.equal(feature.status, 'warn');
    assert.match(
      feature.detail,
      /not enforced by Arbiter: the policy's branch coverage of 0\.8, a mutation score of 0\.5/,
    );
    assert.equal(specGate(spec(3, 'chore'), [], policy).status, 'warn');
    assert.equal(
      specGate(spec(2, 'chore'), [], DEFAULT_REPO_POLICY).status,
      'pass',
      'the default policy has no such rules',
    );
  });

  it('refuses before routing what a legacy tier refuses in the spec, and no contract it cannot know of', () => {
    const policy = normaliseRepoPolicy(JSON.parse(corpus('legacy-tier-policy.json')));
    assert.deepEqual(policyRefusals({ riskTier: 2, mode: 'feature', hasContract: true }, policy), []);
    assert.deepEqual(policyRefusals({ riskTier: 2, mode: 'feature', hasContract: false }, policy), [
      'tier 2 requires a contract (one that names something)',
    ]);
    // A validation recorded before the essentials kept it says nothing of contracts: the spec gate judges them.
    assert.deepEqual(policyRefusals({ riskTier: 2, mode: 'feature' }, policy), []);
    assert.deepEqual(policyRefusals({ riskTier: 2, mode: 'chore\u001b[2K' }, policy), [
      "mode 'chore\\u001B[2K' is not one tier 2 allows (feature, refactor, fix)",
    ]);
    assert.deepEqual(policyRefusals({ riskTier: 2, mode: 'chore', hasContract: false }, DEFAULT_REPO_POLICY), []);
  });

  it('uses the defaults without a policy and for tiers a policy leaves out', () => {
    assert.deepEqual(normaliseRepoPolicy(undefined), DEFAULT_REPO_POLICY);
    const partial = normaliseRepoPolicy({
      version: 1,
      risk_tiers: { '2': { max_files: 5, max_loc: 50 }, '3': { max_files: 5, max_loc: 50, max_bytes: 100 } },
      gates: { scope_boundary: { enabled: false } },
    });
    assert.deepEqual(partial.tiers[2], { maxFiles: 5, maxLoc: 50, maxBytes: MiB * 8 });
    assert.deepEqual(partial.tiers[3], { maxFiles: 5, maxLoc: 50, maxBytes: 100 });
    assert.deepEqual(partial.tiers[1], { maxFiles: 10, maxLoc: 250, maxBytes: KiB * 256 });
    assert.equal(partial.gateModes.scope, 'skip');
  });

  it('refuses a malformed policy, naming each field', () => {
    const bad = () =>
      normaliseRepoPolicy({
        risk_tiers: { '1': { max_files: -1, max_loc: 10 } },
        gates: { budget_limit: { mode: 'sometimes' } },
      });
    assert.throws(bad, (err: unknown) => {
      assert.ok(err instanceof PolicyInvalidError);
      assert.ok(
        err.problems.some((p) => p.startsWith('risk_tiers.1.max_files: ')),
        err.problems.join('; '),
      );
      assert.ok(
        err.problems.some((p) => p.startsWith('gates.budget_limit.mode: ')),
        err.problems.join('; '),
      );
      return true;
    });
    assert.throws(() => normaliseRepoPolicy({ '1': { max_files: 1 }, '2': {}, '3': {} }), /1\.max_loc: Required/);
    assert.throws(() => normaliseRepoPolicy(['not', 'a', 'map']), /\(root\): must be a mapping/);
    assert.throws(
      () => normaliseRepoPolicy({ version: 1, arbiter: { allow_symlinks: 'yes' } }),
      /arbiter\.allow_symlinks: Expected boolean/,
    );
    assert.throws(
      () => normaliseRepoPolicy({ version: 1, arbiter: { allow_everything: true } }),
      /arbiter: Unrecognized key/,
    );
    assert.throws(
      () => normaliseRepoPolicy({ version: 1, gates: { unit: { command: ['npm', 'te\0st'] } } }),
      /gates\.unit\.command\.1: must not contain a NUL character/,
    );
    assert.throws(
      () => normaliseRepoPolicy({ version: 1, arbiter: { setup: { command: ['npm\0'], outputs: ['node_modules'] } } }),
      /arbiter\.setup\.command\.0: must not contain a NUL character/,
    );
  });

  it("refuses policy gates named like Arbiter's gates or with names no checkout folder can take", () => {
    assert.throws(
      () => normaliseRepoPolicy({ version: 1, gates: { Tree: { command: ['true'] } } }),
      /gates\.Tree: gate name 'Tree' is reserved/,
    );
    assert.throws(
      () => normaliseRepoPolicy({ version: 1, gates: { 'unit tests': { command: ['true'] } } }),
      /gates\.unit tests: a gate with a command must have a short identifier/,
    );
    assert.throws(
      () => normaliseRepoPolicy({ version: 1, gates: { 'acceptance-A1': { command: ['true'] } } }),
      /reserved/,
    );
    assert.equal(
      normaliseRepoPolicy({ version: 1, gates: { spec_completeness: { mode: 'warn' } } }).gateModes.spec,
      'warn',
      'a gate without a command may still set a mode',
    );
  });

  it('allows symlinks only when the policy says so', () => {
    assert.equal(normaliseRepoPolicy({ version: 1, arbiter: { allow_symlinks: true } }).allowSymlinks, true);
  });

  it('names the submitter gates that clash with the policy gates, ignoring case', () => {
    const policy = normaliseRepoPolicy({
      version: 1,
      gates: { tests: { command: ['npm', 'test'] }, lint: { enabled: false, command: ['x'] } },
    });
    assert.deepEqual(gateNameClashes([{ name: 'Tests' }, { name: 'lint' }, { name: 'extra' }], policy), [
      "'Tests' is the repository policy's gate of that name, which always runs",
    ]);
  });

  it('reads a setup: its command, outputs and registries as host:port', () => {
    const policy = normaliseRepoPolicy({
      arbiter: {
        setup: {
          command: ['npm', 'ci'],
          outputs: ['node_modules', 'node_modules'],
          registries: ['https://registry.npmjs.org', 'http://127.0.0.1:4873/npm/'],
        },
      },
    });
    assert.deepEqual(policy.setup, {
      argv: ['npm', 'ci'],
      outputs: ['node_modules'],
      registries: ['registry.npmjs.org:443', '127.0.0.1:4873'],
      timeoutSeconds: 900,
    });
    assert.equal(normaliseRepoPolicy({ version: 1 }).setup, undefined);
  });

  it("reads a setup's inputs as scope entries (absent unless listed), and refuses any it could not enforce", () => {
    const setup = { command: ['npm', 'ci'], outputs: ['node_modules'] };
    assert.equal(normaliseRepoPolicy({ arbiter: { setup } }).setupInputs, undefined);
    const listed = normaliseRepoPolicy({ arbiter: { setup: { ...setup, inputs: ['package-lock.json', 'deps/'] } } });
    assert.deepEqual(listed.setupInputs, ['package-lock.json', 'package-lock.json/**', 'deps/**']);
    assert.deepEqual(normaliseRepoPolicy({ arbiter: { setup: { ...setup, inputs: [] } } }).setupInputs, []);
    assert.throws(
      () => normaliseRepoPolicy({ arbiter: { setup: { ...setup, inputs: ['../elsewhere'] } } }),
      (err: unknown) =>
        err instanceof PolicyInvalidError && err.problems.some((p) => p.startsWith('arbiter.setup.inputs.0:')),
    );
  });

  it("reads the policy's own protected paths as scope entries, and refuses any it could not enforce", () => {
    const policy = normaliseRepoPolicy({
      arbiter: { protected: ['test/', 'conftest.py', '**/.mocharc*', './pytest.ini'] },
    });
    assert.deepEqual(policy.protectedPaths, [
      'test/**',
      'conftest.py',
      'conftest.py/**',
      '**/.mocharc*',
      'pytest.ini',
      'pytest.ini/**',
    ]);
    assert.equal(normaliseRepoPolicy({ version: 1 }).protectedPaths, undefined);
    const bad: Array<[string, RegExp]> = [
      ['the test harness', /arbiter\.protected\.0: must be a path glob, not prose/],
      ['../outside', /arbiter\.protected\.0: must be a path inside the repository/],
      ['/etc/passwd', /arbiter\.protected\.0: must be a path inside the repository/],
      ['{a,b}/**', /arbiter\.protected\.0: uses glob syntax Arbiter does not match/],
      ['!test/**', /arbiter\.protected\.0: starts with '!'/],
    ];
    for (const [entry, pattern] of bad)
      assert.throws(
        () => normaliseRepoPolicy({ arbiter: { protected: [entry] } }),
        (err: Error) => err instanceof PolicyInvalidError && pattern.test(err.message),
        `'${entry}' is refused`,
      );
    assert.throws(() => normaliseRepoPolicy({ arbiter: { protected: 'test/**' } }), /arbiter\.protected/);
    assert.throws(
      () => normaliseRepoPolicy({ arbiter: { protected: Array.from({ length: 201 }, (_, i) => `t${i}`) } }),
      /arbiter\.protected: .*200/,
    );
  });

  it('refuses a setup whose outputs are not one plain folder, or whose registries are not URLs', () => {
    for (const output of ['..', '.', 'a/b', '.git', '.caws', '.GitHub', '']) {
      assert.throws(
        () => normaliseRepoPolicy({ arbiter: { setup: { command: ['x'], outputs: [output] } } }),
        (err: Error) => err instanceof PolicyInvalidError && /arbiter\.setup\.outputs/.test(err.message),
        `output '${output}' is refused`,
      );
    }
    assert.throws(
      () => normaliseRepoPolicy({ arbiter: { setup: { command: ['x'], outputs: ['o'], registries: ['npmjs.org'] } } }),
      /arbiter\.setup\.registries\.0: must be a registry URL/,
    );
    assert.throws(() => normaliseRepoPolicy({ arbiter: { setup: { command: [], outputs: ['o'] } } }), /setup\.command/);
    assert.throws(
      () => normaliseRepoPolicy({ arbiter: { setup: { command: ['x'], outputs: ['o'], shell: 'x' } } }),
      /shell/,
    );
  });
});
