/**
 * The target repository's CAWS policy, read at the base commit, governs verification: its tier
 * budgets apply, a gate in warn mode only warns (and never turns a failure into a pass), a
 * skipped gate does not run, and a malformed policy fails the task naming the field.
 */
import assert from 'node:assert/strict';
import { stringify } from 'yaml';
import { waivers } from '../../db/schema';
import type { TaskInput } from '../../domain/task';
import { registeredApprover, signedWaiverRow } from '../helpers/approvers';
import { arbiter } from '../helpers/cli';
import { addScriptedAgent, makeRepo, registerRepo, specYaml, uniqueId } from '../helpers/fixtures';
import { testStack } from '../helpers/stack';
import { runToEnd } from '../helpers/tasks';

const TWO_FILES = [
  { op: 'write' as const, path: 'src/a.js', content: 'a\n' },
  { op: 'write' as const, path: 'src/b.js', content: 'b\n' },
];

async function run(policy: unknown, extra: Partial<TaskInput> = {}) {
  const tenant = uniqueId('tenant');
  await addScriptedAgent(tenant, TWO_FILES);
  const repo = makeRepo({
    'src/app.js': 'x\n',
    '.caws/policy.yaml': typeof policy === 'string' ? policy : stringify(policy),
  });
  const input = {
    tenantId: tenant,
    taskId: uniqueId('task'),
    specYaml: specYaml(),
    repo: await registerRepo(tenant, repo),
    ...extra,
  };
  return runToEnd(input);
}

describe('repository policy in verification', function () {
  this.timeout(60_000);

  it("applies the policy's tier budget", async () => {
    const final = await run({ version: 1, risk_tiers: { '3': { max_files: 1, max_loc: 100 } } });
    assert.equal(final.state, 'FAILED');
    const budget = final.gates.find((g) => g.name === 'budget');
    assert.equal(budget?.status, 'fail');
    assert.equal(budget?.detail, '2/1 files, 2/100 lines, 4/33554432 bytes (budget from tier 3, current policy)');
  });

  it('a gate in warn mode warns without blocking; a blocking failure still fails', async () => {
    const warned = await run({
      version: 1,
      risk_tiers: { '3': { max_files: 1, max_loc: 100 } },
      gates: { budget_limit: { mode: 'warn' } },
    });
    assert.equal(warned.state, 'COMPLETED');
    assert.equal(warned.gates.find((g) => g.name === 'budget')?.status, 'warn');
    const stillFails = await run(
      { version: 1, risk_tiers: { '3': { max_files: 1, max_loc: 100 } }, gates: { budget_limit: { mode: 'warn' } } },
      { gates: [{ name: 'tests', argv: ['node', '-e', 'process.exit(1)'] }] },
    );
    assert.equal(stillFails.state, 'FAILED');
    assert.deepEqual(
      stillFails.gates.map((g) => [g.name, g.status]),
      [
        ['budget', 'warn'],
        ['scope', 'pass'],
        ['spec', 'pass'],
        ['protected', 'pass'],
        ['tree', 'pass'],
        ['tests', 'fail'],
      ],
    );
    assert.equal(stillFails.verdict?.outcome, 'FAIL');
  });

  it('a gate the policy turns off does not run', async () => {
    const final = await run(
      { version: 1, gates: { tests: { enabled: false } } },
      { gates: [{ name: 'tests', argv: ['node', '-e', 'process.exit(1)'] }] },
    );
    assert.equal(final.state, 'COMPLETED');
    const tests = final.gates.find((g) => g.name === 'tests');
    assert.equal(tests?.status, 'skipped');
    assert.equal(tests?.exitCode, undefined);
  });

  it("runs the policy's own command gates (tests, lint) in every task", async () => {
    const final = await run({
      version: 1,
      gates: {
        lint: { mode: 'block', command: ['node', '-e', 'process.exit(0)'] },
        typecheck: { mode: 'block', command: ['node', '-e', 'process.exit(2)'] },
      },
    });
    assert.equal(final.state, 'FAILED');
    assert.deepEqual(
      final.gates.slice(5).map((g) => [g.name, g.status, g.exitCode]),
      [
        ['lint', 'pass', 0],
        ['typecheck', 'fail', 2],
      ],
    );
  });

  it('a malformed policy fails the task, naming the field', async () => {
    const final = await run({ version: 1, risk_tiers: { '1': { max_files: 'ten', max_loc: 250 } } });
    assert.equal(final.state, 'FAILED');
    assert.equal(final.error?.type, 'PolicyInvalidError');
    assert.match(
      final.error?.message ?? '',
      /\.caws\/policy\.yaml is invalid: risk_tiers\.1\.max_files: Expected number/,
    );
  });
});

describe('acceptance criteria and spec waivers as gates', function () {
  this.timeout(60_000);

  it('runs each acceptance test_command as a gate and records spec warnings without blocking', async () => {
    const tenant = uniqueId('tenant');
    await addScriptedAgent(tenant, TWO_FILES);
    const spec = specYaml({
      acceptance: [
        { id: 'A1', given: 'a', when: 'b', then: 'c', test_command: 'test -f src/a.js' },
        { id: 'A2', given: 'a', when: 'b', then: 'c', test_command: 'test -f src/missing.js' },
      ],
      scope: { in: ['src/', 'Make sure nothing else changes'], out: [] },
    });
    const input = { tenantId: tenant, taskId: uniqueId('task'), specYaml: spec, repo: await registerRepo(tenant) };
    await testStack().client.submit(input);
    const final = await testStack().client.watch(input, undefined, 200);
    assert.deepEqual(
      final.gates.map((g) => [g.name, g.status]),
      [
        ['budget', 'pass'],
        ['scope', 'pass'],
        ['spec', 'warn'],
        ['protected', 'pass'],
        ['tree', 'pass'],
        ['acceptance-A1', 'pass'],
        ['acceptance-A2', 'fail'],
      ],
    );
    assert.equal(final.state, 'FAILED', 'a warning never turns a failure into a pass');
  });

  it("a spec's waiver_ids raise the budget only while the waiver is active and unexpired", async () => {
    const db = testStack().database.db;
    const tenant = uniqueId('tenant');
    await addScriptedAgent(tenant, TWO_FILES);
    const policy = stringify({
      version: 1,
      risk_tiers: { '3': { max_files: 1, max_loc: 100 } },
      // Waivers allowed; an overrun whose named waiver is refused goes to the desk, whose window closes in 3.6 s.
      waivers: { max_expiry_days: 7, decision_window_hours: 0.001 },
    });
    // Approved ahead for the spec's id and the budget (CAWS calls it budget_limit) by a registered key, not used yet.
    const alice = await registeredApprover(tenant, 'alice');
    const row = async (id: string, status: string, expiresAt: Date) => ({
      ...(await signedWaiverRow(tenant, {
        id,
        specId: 'TEST-001',
        approvers: [alice],
        delta: { maxFiles: 5, maxLoc: 0 },
      })),
      gates: ['budget_limit'],
      status,
      expiresAt,
    });
    await db
      .insert(waivers)
      .values([
        await row('WV-1001', 'active', new Date(Date.now() + 3_600_000)),
        await row('WV-1002', 'revoked', new Date(Date.now() + 3_600_000)),
        await row('WV-1003', 'active', new Date(Date.now() - 3_600_000)),
      ]);
    const runWith = async (ids: string[]) => {
      const input = {
        tenantId: tenant,
        taskId: uniqueId('task'),
        specYaml: specYaml({ waiver_ids: ids }),
        repo: await registerRepo(tenant, makeRepo({ 'src/app.js': 'x\n', '.caws/policy.yaml': policy })),
      };
      await testStack().client.submit(input);
      return testStack().client.watch(input, undefined, 200);
    };
    const active = await runWith(['WV-1001']);
    assert.equal(active.state, 'COMPLETED');
    assert.match(active.gates[0].detail, /2\/6 files.*raised by waiver\(s\) WV-1001/);
    const listed = JSON.parse(
      (await arbiter(['waivers', 'list', '--tenant', tenant, '--json'], { DATABASE_URL: testStack().databaseUrl }))
        .stdout,
    );
    assert.deepEqual(
      listed.map((w: { id: string; status: string }) => [w.id, w.status]),
      [
        ['WV-1001', 'active'],
        ['WV-1002', 'revoked'],
        ['WV-1003', 'expired'],
      ],
    );
    const revoke = await arbiter(['waivers', 'revoke', 'WV-1001', '--tenant', tenant], {
      DATABASE_URL: testStack().databaseUrl,
    });
    assert.equal(revoke.code, 0, revoke.stderr);
    const why: Record<string, RegExp> = {
      // Revoked is said before used: without the revocation this run would read "already used by task".
      'WV-1001': /WV-1001 is revoked/,
      'WV-1002': /WV-1002 is revoked/,
      // Marked expired by the expiry sweep if another test ran one meanwhile; past its expiry either way.
      'WV-1003': /WV-1003 (expired at|is expired)/,
    };
    for (const [id, reason] of Object.entries(why)) {
      const ignored = await runWith([id]);
      assert.equal(ignored.state, 'FAILED', `${id} must not apply`);
      assert.match(ignored.gates[0].detail, /^2\/1 files/);
      assert.match(JSON.stringify(ignored.gates), reason);
    }
  });
});
