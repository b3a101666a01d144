/**
 * Attacks through what git reads in the work tree while it stages the agent's change:
 * - a `.gitattributes` naming an encoding git cannot convert made staging fail: the measurement
 *   failed as if the host had, was retried, and the task ended FAILED as infrastructure, sparing
 *   the agent the FAIL its gates would have given;
 * - the target's own `.gitattributes` converting line ends made git store other bytes than the agent
 *   left and ran (a `.gitattributes` in the change is a protected path; an ignored one is not);
 * - a name git refuses to stage (`.git.`: some checkout reads it as `.git`) failed the same way.
 * Attributes in the tree now take no part in staging, and a refused name is the agent's doing.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { eq } from 'drizzle-orm';
import { agentStats } from '../../db/schema';
import { deliveryBranch } from '../../temporal-config';
import { GOOD_PLAN } from '../helpers/fixtures';
import { testStack } from '../helpers/stack';
import { explain, nodeStep, runTask } from './helpers';

const CRLF = 'x\r\ny\r\n';

describe("governance: git's attributes and names in the work tree", function () {
  this.timeout(120_000);

  it('an encoding git cannot convert, even ignored, does not stop staging: the change is judged', async () => {
    const { final } = await runTask({
      steps: [
        ...GOOD_PLAN,
        nodeStep(
          "require('fs').writeFileSync('src/.gitattributes', '* working-tree-encoding=NOPE\\n'); require('fs').writeFileSync('.gitignore', 'src/.gitattributes\\n')",
        ),
      ],
      spec: { scope: { in: ['src/', '.gitignore'], out: [] } },
    });
    assert.equal(final.state, 'COMPLETED', explain(final));
  });

  it('line-end attributes do not change the bytes staged: the delivered file is what the agent left', async () => {
    const { final, repo, input } = await runTask({
      files: { 'src/app.js': 'module.exports = 1;\n', '.gitattributes': '*.txt text eol=crlf\n' },
      steps: [
        ...GOOD_PLAN,
        nodeStep(`const fs = require('fs'); fs.writeFileSync('src/b.txt', ${JSON.stringify(CRLF)})`),
      ],
    });
    assert.equal(final.state, 'COMPLETED', explain(final));
    const delivered = (file: string) =>
      execFileSync('git', ['-C', repo, 'show', `${deliveryBranch(input.taskId)}:${file}`]).toString('utf8');
    assert.equal(delivered('src/b.txt'), CRLF);
    assert.equal(delivered('src/feature.js'), 'module.exports = () => 42;\n');
  });

  it("a name git refuses to stage fails the task at once, naming it, as the agent's FAIL", async () => {
    const { final, tenant } = await runTask({
      steps: [...GOOD_PLAN, nodeStep("require('fs').writeFileSync('src/.git.', 'x')")],
    });
    assert.equal(final.state, 'FAILED', explain(final));
    assert.equal(final.error?.type, 'PolicyViolationError', explain(final));
    assert.match(final.error?.message ?? '', /^measure 'src\/\.git\.' refused: a name git refuses to stage/);
    const stats = await testStack().database.db.select().from(agentStats).where(eq(agentStats.tenantId, tenant));
    assert.deepEqual(
      stats.map((s) => [s.tasks, s.failures]),
      [[1, 1]],
    );
  });
});
