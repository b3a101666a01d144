/**
 * The target repository's CAWS policy, read at the base commit, governs verification: its tier
 * budgets apply, a gate in warn mode only warns (and never turns a failure into a pass), a
 * skipped gate does not run, and a malformed policy fails the task naming the field.
 */
import assert from 'node:assert/strict';
import { stringify } from 'yaml';
import type { TaskInput } from '../../domain/task';
import { addScriptedAgent, makeRepo, specYaml, uniqueId } from '../helpers/fixtures';
import { testStack } from '../helpers/stack';

const TWO_FILES = [
  { op: 'write' as const, path: 'src/a.js', content: 'a\n' },
  { op: 'write' as const, path: 'src/b.js', content: 'b\n' },
];

async function run(policy: unknown, extra: Partial<TaskInput> = {}) {
  const tenant = uniqueId('tenant');
  await addScriptedAgent(tenant, TWO_FILES);
  const repo = makeRepo({ 'src/app.js': 'x\n', '.caws/policy.yaml': typeof policy === 'string' ? policy : stringify(policy) });
  const input = { tenantId: tenant, taskId: uniqueId('task'), specYaml: specYaml(), repoPath: repo, ...extra };
  await testStack().client.submit(input);
  return testStack().client.watch(input, undefined, 200);
}

describe('repository policy in verification', function () {
  this.timeout(60_000);

  it("applies the policy's tier budget", async () => {
    const final = await run({ version: 1, risk_tiers: { '3': { max_files: 1, max_loc: 100 } } });
    assert.equal(final.state, 'FAILED');
    const budget = final.gates.find((g) => g.name === 'budget');
    assert.equal(budget?.status, 'fail');
    assert.equal(budget?.detail, '2/1 files, 2/100 lines (budget from tier 3, current policy)');
  });

  it('a gate in warn mode warns without blocking; a blocking failure still fails', async () => {
    const warned = await run({ version: 1, risk_tiers: { '3': { max_files: 1, max_loc: 100 } }, gates: { budget_limit: { mode: 'warn' } } });
    assert.equal(warned.state, 'COMPLETED');
    assert.equal(warned.gates.find((g) => g.name === 'budget')?.status, 'warn');
    const stillFails = await run(
      { version: 1, risk_tiers: { '3': { max_files: 1, max_loc: 100 } }, gates: { budget_limit: { mode: 'warn' } } },
      { gates: [{ name: 'tests', argv: ['node', '-e', 'process.exit(1)'] }] },
    );
    assert.equal(stillFails.state, 'FAILED');
    assert.deepEqual(stillFails.gates.map((g) => [g.name, g.status]), [['budget', 'warn'], ['scope', 'pass'], ['tests', 'fail']]);
    assert.equal(stillFails.verdict?.outcome, 'FAIL');
  });

  it('a gate the policy turns off does not run', async () => {
    const final = await run({ version: 1, gates: { tests: { enabled: false } } }, { gates: [{ name: 'tests', argv: ['node', '-e', 'process.exit(1)'] }] });
    assert.equal(final.state, 'COMPLETED');
    const tests = final.gates.find((g) => g.name === 'tests');
    assert.equal(tests?.status, 'skipped');
    assert.equal(tests?.exitCode, undefined);
  });

  it('a malformed policy fails the task, naming the field', async () => {
    const final = await run({ version: 1, risk_tiers: { '1': { max_files: 'ten', max_loc: 250 } } });
    assert.equal(final.state, 'FAILED');
    assert.equal(final.error?.type, 'PolicyInvalidError');
    assert.match(final.error?.message ?? '', /\.caws\/policy\.yaml is invalid: risk_tiers\.1\.max_files: Expected number/);
  });
});
