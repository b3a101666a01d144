/**
 * Attack: changing what governs the repository — its policy, CI, hooks, ownership, attributes —
 * with a command rather than the file tools (which refuse), or under another spelling of the
 * path. The `protected` gate judges the measured diff, case-insensitively, however the change
 * was written; it is non-waivable, and the next task still runs under the original policy.
 */
import assert from 'node:assert/strict';
import { printable } from '../../domain/printable';
import { GOOD_PLAN, gitIn, makeRepo } from '../helpers/fixtures';
import { assertFailedByGate, gateOf, policyYaml, runTask, sha256, verdictPayload, writeByCommand } from './helpers';

/** The original policy: one command gate that passes for an honest change (src/feature.js exists). */
const GUARD = ['node', '-e', "process.exit(require('fs').existsSync('src/feature.js') ? 0 : 5)"];
const POLICY = policyYaml({ gates: { guard: { mode: 'block', command: GUARD } } });

describe('governance: protected paths, however they are written', function () {
  this.timeout(120_000);

  it('a run command rewriting .caws/policy.yaml fails protected, delivers nothing, and the next task still uses the original policy', async () => {
    const repo = makeRepo({ 'src/app.js': 'module.exports = 1;\n', '.caws/policy.yaml': POLICY });
    const weakened = policyYaml({
      risk_tiers: { '3': { max_files: 1000, max_loc: 1000000 } },
      gates: { guard: { enabled: false } },
    });
    const attack = await runTask({
      repo,
      // In scope, the policy in scope too: the only thing that stops it is the protected gate.
      spec: { scope: { in: ['src/', '.caws/'], out: [] } },
      steps: [...GOOD_PLAN, writeByCommand({ '.caws/policy.yaml': weakened })],
    });
    const { gate } = await assertFailedByGate(
      attack,
      'protected',
      /^protected path\(s\) changed: .*\.caws\/policy\.yaml/,
    );
    assert.equal(gate.source, 'arbiter');
    assert.equal(gitIn(repo, 'show', 'main:.caws/policy.yaml') + '\n', POLICY, 'the target policy is unchanged');

    // The next task in the same repository (another tenant, an honest agent).
    const next = await runTask({ repo, steps: GOOD_PLAN });
    assert.equal(next.final.state, 'COMPLETED', JSON.stringify(next.final.gates));
    const guard = gateOf(next.final, 'guard');
    assert.equal(guard.source, 'policy', 'the original policy gate still runs');
    assert.deepEqual(guard.argv, GUARD);
    const payload = await verdictPayload(next.tenant, next.input.taskId);
    assert.equal(payload.policy.digest, sha256(POLICY), 'the verdict names the original policy bytes');
    assert.equal(payload.policy.file, '.caws/policy.yaml');
  });

  it('a run command deleting .caws/policy.yaml fails protected', async () => {
    const r = await runTask({
      files: { 'src/app.js': 'module.exports = 1;\n', '.caws/policy.yaml': POLICY },
      steps: [
        ...GOOD_PLAN,
        { op: 'run', argv: ['node', '-e', "require('fs').rmSync('.caws', { recursive: true })"], timeoutSeconds: 60 },
      ],
    });
    await assertFailedByGate(r, 'protected', /^protected path\(s\) changed: .*\.caws\/policy\.yaml/);
  });

  const spellings: Array<[string, string]> = [
    ['.GitHub/workflows/ci.yml', 'CI config under another case'],
    ['src/CodeOwners', 'CODEOWNERS in a subdirectory, mixed case'],
    ['src/.GITATTRIBUTES', '.gitattributes in a subdirectory, upper case'],
    ['.CAWS/policy.yaml', 'the policy folder, upper case'],
    ['.Husky/pre-commit', 'a hook folder, mixed case'],
    ['.caws/policy.yml', 'an alternative policy file name the loader also reads'],
    ['.caws/tier-policy.json', 'the legacy policy file name'],
    ['.gitmodules', 'submodule config at the root'],
    ['.gitlab-ci.yml', 'another CI system'],
    ['.github/workflows/deploy\u2028.yml', 'CI config whose name holds a line separator'],
  ];
  for (const [file, what] of spellings) {
    it(`a command writing ${file} (${what}) fails protected`, async () => {
      const r = await runTask({
        files: { 'src/app.js': 'module.exports = 1;\n', 'README.md': '# target\n' },
        spec: { scope: { in: ['**'], out: [] } },
        steps: [...GOOD_PLAN, writeByCommand({ [file]: 'owned: true\n' })],
      });
      const { gate } = await assertFailedByGate(r, 'protected', /^protected path\(s\) changed: /);
      // Named as people are shown it: a line separator in a name written \u2028.
      assert.ok(gate.detail.includes(printable(file)), `protected names ${file}: '${gate.detail}'`);
      assert.equal(gateOf(r.final, 'scope').status, 'pass', 'scope allowed it: protection alone refuses it');
    });
  }

  it('modifying a tracked CODEOWNERS and deleting a tracked .gitattributes by command both fail protected', async () => {
    const r = await runTask({
      files: {
        'src/app.js': 'module.exports = 1;\n',
        'docs/CODEOWNERS': '* @owners\n',
        'src/.gitattributes': '*.js text\n',
      },
      spec: { scope: { in: ['**'], out: [] } },
      steps: [
        ...GOOD_PLAN,
        writeByCommand({ 'docs/CODEOWNERS': '* @attacker\n' }),
        { op: 'run', argv: ['node', '-e', "require('fs').unlinkSync('src/.gitattributes')"], timeoutSeconds: 60 },
      ],
    });
    const { gate } = await assertFailedByGate(r, 'protected', /^protected path\(s\) changed: /);
    assert.ok(gate.detail.includes('docs/CODEOWNERS'), gate.detail);
    assert.ok(gate.detail.includes('src/.gitattributes'), gate.detail);
  });

  for (const setting of [{ mode: 'warn' }, { enabled: false }]) {
    it(`protected is not waivable and ignores the policy gate setting ${JSON.stringify(setting)}`, async () => {
      const r = await runTask({
        files: {
          'src/app.js': 'module.exports = 1;\n',
          '.caws/policy.yaml': policyYaml({
            gates: { protected: setting },
            waivers: { min_approvers_for_budget_raise: 1, decision_window_hours: 0.005 },
          }),
        },
        spec: { scope: { in: ['**'], out: [] } },
        steps: [...GOOD_PLAN, writeByCommand({ '.github/workflows/ci.yml': 'on: push\n' })],
      });
      await assertFailedByGate(r, 'protected', /\.github\/workflows\/ci\.yml/);
      // Had a waiver been asked for, the task would have ended on the (18 s) decision window instead.
      assert.match(
        r.final.error?.message ?? '',
        /protected/,
        `the task fails on the protected gate, not a waiver: ${JSON.stringify(r.final.error)}`,
      );
      assert.ok(!r.final.history.some((h) => /waiver/i.test(h.note ?? '')), 'no waiver was asked for');
    });
  }
});
