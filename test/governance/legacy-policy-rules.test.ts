/**
 * Attack (found in review): a repository governed by CAWS's legacy `.caws/tier-policy.json` says
 * tier 2 `requires_contracts: true` and `allowed_modes: [feature, refactor, fix]`. Arbiter read
 * its budgets alone, and a tier-2 `chore` spec with no contract was signed PASS and delivered.
 * Now the spec gate holds the spec to them, and names what no gate measures; and since no agent's
 * work could change the spec, a run stops on them before routing, with no agent started.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { projectRoot } from '../../client/paths';
import { addScriptedAgent, gitIn, makeRepo, registerRepo, specYaml, uniqueId } from '../helpers/fixtures';
import { testStack } from '../helpers/stack';
import { deliveryBranch } from '../../temporal-config';

const LEGACY = readFileSync(
  path.join(projectRoot(), 'test/fixtures/caws-corpus/policies/legacy-tier-policy.json'),
  'utf8',
);

describe("governance: a legacy tier policy's rules beside its budgets", function () {
  this.timeout(180_000);

  it('fails a tier-2 chore with no contract before routing: no agent runs, nothing is delivered', async () => {
    const stack = testStack();
    const tenant = uniqueId('tenant');
    await addScriptedAgent(tenant, [{ op: 'write', path: 'src/f.js', content: 'x\n' }], { taskTypes: ['chore'] });
    const repo = makeRepo({ 'src/app.js': 'x\n', '.caws/tier-policy.json': LEGACY });
    const input = {
      tenantId: tenant,
      taskId: uniqueId('task'),
      specYaml: specYaml({ risk_tier: 2, mode: 'chore', contracts: [] }),
      repo: await registerRepo(tenant, repo),
    };
    await stack.client.submit(input);
    const final = await stack.client.watch(input, undefined, 200);
    assert.equal(final.state, 'FAILED', JSON.stringify(final.error));
    assert.equal(final.error?.type, 'SpecRefusedByPolicyError');
    assert.match(final.error?.message ?? '', /mode 'chore' is not one tier 2 allows .*tier 2 requires a contract/);
    assert.deepEqual(
      final.history.map((h) => h.state),
      ['RECEIVED', 'VALIDATING_SPEC', 'SPEC_APPROVED', 'ROUTING', 'FAILED'],
    );
    assert.equal(final.routing ?? null, null);
    assert.equal(final.verdict ?? null, null);
    assert.equal(gitIn(repo, 'for-each-ref', `refs/heads/${deliveryBranch(input.taskId)}`), '');
  });

  it('runs a tier-2 feature with a contract under the same policy to a PASS', async () => {
    const stack = testStack();
    const tenant = uniqueId('tenant');
    await addScriptedAgent(tenant, [{ op: 'write', path: 'src/f.js', content: 'x\n' }]);
    const repo = makeRepo({ 'src/app.js': 'x\n', '.caws/tier-policy.json': LEGACY });
    const input = {
      tenantId: tenant,
      taskId: uniqueId('task'),
      specYaml: specYaml({
        risk_tier: 2,
        mode: 'feature',
        contracts: [{ name: 'greeter', type: 'api', path: 'api.yaml' }],
      }),
      repo: await registerRepo(tenant, repo),
    };
    await stack.client.submit(input);
    const final = await stack.client.watch(input, undefined, 200);
    assert.equal(final.state, 'COMPLETED', JSON.stringify(final.error ?? final.gates));
    assert.match(final.gates.find((g) => g.name === 'spec')?.detail ?? '', /not enforced by Arbiter/);
  });
});
