/**
 * What a step may run, and what a verdict must hold, as the repository's policy says: the policy's
 * command only as written and in its mode, no other gate under its name (whatever the case) or
 * under the name of one of Arbiter's own, and every verdict holding Arbiter's five gates (of their
 * own kind) and each policy command.
 */
import assert from 'node:assert/strict';
import { gateRunProblem, missingGates } from '../../domain/policy-gates';
import { DEFAULT_REPO_POLICY, type RepoPolicy } from '../../domain/repo-policy';

const POLICY: RepoPolicy = {
  ...DEFAULT_REPO_POLICY,
  commands: [{ name: 'tests', argv: ['npm', 'test'] }],
  gateModes: { tests: 'block', lint: 'warn' },
};

describe('domain: the gates a policy demands', () => {
  it('lets the policy command run as written, and other gates under names of their own', () => {
    assert.equal(
      gateRunProblem(POLICY, { gate: { name: 'tests', argv: ['npm', 'test'] }, source: 'policy', mode: 'block' }),
      undefined,
    );
    assert.equal(
      gateRunProblem(POLICY, { gate: { name: 'e2e', argv: ['true'] }, source: 'submitter', mode: 'block' }),
      undefined,
    );
    assert.equal(
      gateRunProblem(POLICY, { gate: { name: 'lint', argv: ['true'] }, source: 'submitter', mode: 'warn' }),
      undefined,
    );
    const inherited = {
      gate: { name: 'toString', argv: ['true'] },
      source: 'submitter' as const,
      mode: 'block' as const,
    };
    assert.equal(gateRunProblem(POLICY, inherited), undefined, 'a name only Object.prototype knows has no mode');
  });

  it('refuses another argv, another mode, a look-alike name, or a policy gate the policy does not have', () => {
    const cases: Array<[Parameters<typeof gateRunProblem>[1], RegExp]> = [
      [
        { gate: { name: 'tests', argv: ['npm', 'test', '--', '--bail=0'] }, source: 'policy', mode: 'block' },
        /the policy's command is \["npm","test"\]/,
      ],
      [
        { gate: { name: 'tests', argv: ['npm', 'test'] }, source: 'policy', mode: 'warn' },
        /mode warn; the policy gives it block/,
      ],
      [
        { gate: { name: 'lint', argv: ['true'] }, source: 'submitter', mode: 'block' },
        /mode block; the policy gives it warn/,
      ],
      [
        { gate: { name: 'Tests', argv: ['true'] }, source: 'submitter', mode: 'block' },
        /has the name of the policy's command tests/,
      ],
      [{ gate: { name: 'Tests', argv: ['npm', 'test'] }, source: 'policy', mode: 'block' }, /the policy's command is/],
      [{ gate: { name: 'build', argv: ['true'] }, source: 'policy', mode: 'block' }, /not a command of the policy/],
      [
        { gate: { name: 'Scope', argv: ['true'] }, source: 'submitter', mode: 'block' },
        /has the name of Arbiter's own gate/,
      ],
      [
        { gate: { name: 'acceptance-A1', argv: ['true'] }, source: 'submitter', mode: 'block' },
        /only the spec's acceptance gates/,
      ],
      [
        { gate: { name: 'A1', argv: ['true'] }, source: 'acceptance', mode: 'block' },
        /only the spec's acceptance gates/,
      ],
    ];
    for (const [run, pattern] of cases)
      assert.match(gateRunProblem(POLICY, run) ?? 'allowed', pattern, JSON.stringify(run));
  });

  it("names every one of Arbiter's gates and policy commands a verdict lacks", () => {
    const arbiter = ['budget', 'scope', 'spec', 'protected', 'tree'].map((name) => ({ name, kind: name }));
    const tests = { name: 'tests', kind: 'command', source: 'policy', argv: ['npm', 'test'] };
    assert.deepEqual(missingGates(POLICY, [...arbiter, tests]), []);
    assert.deepEqual(missingGates(POLICY, [...arbiter.slice(1), { name: 'tests', kind: 'budget' }]), [
      "gate budget: Arbiter's own gate did not judge the change",
      "gate tests: the policy's command did not run",
    ]);
    const commandCalledBudget = [{ name: 'budget', kind: 'command' }, ...arbiter.slice(1), tests];
    assert.deepEqual(missingGates(POLICY, commandCalledBudget), [
      "gate budget: Arbiter's own gate did not judge the change",
    ]);
  });

  // Before: a run of one's own left the spec's acceptance tests out, or ran them as `true`, and the verdict was signed.
  it("holds each of the spec's acceptance tests to the spec's own command, in a step and in a verdict", () => {
    const spec = { acceptance: [{ id: 'A1', testCommand: 'pytest tests/a1.py' }, { id: 'A2' }] };
    const a1 = { name: 'acceptance-A1', argv: ['sh', '-c', 'pytest tests/a1.py'] };
    const run = (argv: string[], name = a1.name) => ({
      gate: { name, argv },
      source: 'acceptance' as const,
      mode: 'block' as const,
    });
    assert.equal(gateRunProblem(POLICY, run(a1.argv), spec), undefined);
    assert.match(
      gateRunProblem(POLICY, run(['true']), spec) ?? '',
      /the spec's test command is \["sh","-c","pytest tests\/a1.py"\]/,
    );
    assert.match(gateRunProblem(POLICY, run(['true'], 'acceptance-A2'), spec) ?? '', /not an acceptance criterion/);
    const arbiter = ['budget', 'scope', 'spec', 'protected', 'tree'].map((name) => ({ name, kind: name }));
    const tests = { name: 'tests', kind: 'command', source: 'policy', argv: ['npm', 'test'] };
    const stated = { ...a1, kind: 'command', source: 'acceptance' };
    assert.deepEqual(missingGates(POLICY, [...arbiter, tests, stated], spec), []);
    assert.deepEqual(missingGates(POLICY, [...arbiter, tests], spec), [
      'gate acceptance-A1: the acceptance test did not run',
    ]);
    assert.deepEqual(missingGates(POLICY, [...arbiter, tests, { ...stated, argv: ['true'] }], spec), [
      'gate acceptance-A1: stated as acceptance ["true"], the acceptance test is ["sh","-c","pytest tests/a1.py"]',
    ]);
    assert.deepEqual(missingGates(POLICY, [...arbiter, { ...tests, source: 'submitter' }, stated], spec), [
      'gate tests: stated as submitter ["npm","test"], the policy\'s command is ["npm","test"]',
    ]);
  });
});
