/**
 * Attack (found in review): tier laundering through `baseRef`. Task A (tier 3) changes 20 files and
 * is delivered to `arbiter/A`; task B names `baseRef: arbiter/A`, declares tier 1 (10 files) and
 * changes one. The budget counted B's agent change alone and the scope gate took A's files as in
 * B's scope, so B was signed a tier-1 PASS of one file while `arbiter/B` changed 21 files against
 * the trusted ref. The budget gate now counts the delivered branch, the base's changes off the
 * trusted ref with the agent's; the approvals of a waiver size the agent's change alone, so no
 * waiver raises such a budget.
 */
import assert from 'node:assert/strict';
import type { ScriptedStep } from '../../domain/agent';
import { addScriptedAgent, gitIn, makeRepo, registerRepo, specYaml, uniqueId } from '../helpers/fixtures';
import { runToEnd } from '../helpers/tasks';
import { policyYaml, refExists } from './helpers';

const TIER1 = {
  risk_tier: 1,
  contracts: [{ name: 'c', type: 'api', path: 'docs/api.yaml' }],
  scope: { in: ['src/'], out: [] },
};

describe("governance: the base's changes count against the budget", function () {
  this.timeout(300_000);

  it('a tier-1 task on a delivered 20-file branch fails its budget, and nothing is delivered', async () => {
    const tenant = uniqueId('launder');
    // Waivers are enabled: a budget that counts the base's changes still asks for none, and fails at once.
    const repoDir = makeRepo({ '.caws/policy.yaml': policyYaml({ waivers: { min_approvers_for_budget_raise: 1 } }) });
    const repo = await registerRepo(tenant, repoDir);
    const big: ScriptedStep[] = Array.from({ length: 20 }, (_, i) => ({
      op: 'write' as const,
      path: `src/big/f${i}.js`,
      content: `module.exports = ${i};\n`,
    }));
    const agentA = uniqueId('agent-a');
    const agentB = uniqueId('agent-b');
    await addScriptedAgent(tenant, big, { id: agentA });
    await addScriptedAgent(tenant, [{ op: 'write', path: 'src/small.js', content: 'module.exports = 0;\n' }], {
      id: agentB,
    });
    const a = { tenantId: tenant, taskId: uniqueId('a'), specYaml: specYaml(), repo, agentHint: agentA };
    const finalA = await runToEnd(a);
    assert.equal(finalA.state, 'COMPLETED', JSON.stringify(finalA.error));

    const b = {
      tenantId: tenant,
      taskId: uniqueId('b'),
      specYaml: specYaml(TIER1),
      repo,
      agentHint: agentB,
      baseRef: `arbiter/${a.taskId}`,
    };
    const finalB = await runToEnd(b);
    assert.equal(finalB.state, 'FAILED', JSON.stringify(finalB.gates));
    assert.equal(finalB.verdict?.outcome, 'FAIL');
    const budget = finalB.gates.find((g) => g.name === 'budget');
    assert.equal(budget?.status, 'fail');
    assert.match(
      budget?.detail ?? '',
      /^21\/10 files, .*the delivered branch, with its base's changes off the trusted ref: 20 of its files the base's$/,
    );
    assert.equal(finalB.gates.find((g) => g.name === 'scope')?.status, 'pass', 'every path is in scope');
    assert.equal(refExists(repoDir, `refs/heads/arbiter/${b.taskId}`), false);
    assert.notEqual(gitIn(repoDir, 'rev-parse', `arbiter/${a.taskId}`), '');
  });
});
