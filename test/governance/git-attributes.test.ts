/**
 * Attacks through what git reads in the work tree while it stages the agent's change:
 * - a `.gitattributes` naming an encoding git cannot convert made staging fail: the measurement
 *   failed as if the host had, was retried, and the task ended FAILED as infrastructure, sparing
 *   the agent the FAIL its gates would have given;
 * - an ignored `.gitattributes` asking for `ident` made git store other bytes than the agent left
 *   and ran (a `.gitattributes` in the change is a protected path; an ignored one is not);
 * - a name git refuses to stage (`.git.`: some checkout reads it as `.git`) failed the same way.
 * Attributes in the tree now take no part in staging, and a refused name is the agent's doing.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { deliveryBranch } from '../../temporal-config';
import { GOOD_PLAN } from '../helpers/fixtures';
import { explain, nodeStep, runTask, tasksAndFailures } from './helpers';

const IDENT = '// $Id: forged by the agent $\nmodule.exports = 1;\n';

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

  it('an ident attribute, even ignored, does not change the bytes staged: the delivered file is what the agent left', async () => {
    const { final, repo, input } = await runTask({
      steps: [
        ...GOOD_PLAN,
        nodeStep(
          `const fs = require('fs'); fs.writeFileSync('src/id.js', ${JSON.stringify(IDENT)}); fs.writeFileSync('src/.gitattributes', '*.js ident\\n'); fs.writeFileSync('.gitignore', 'src/.gitattributes\\n')`,
        ),
      ],
      spec: { scope: { in: ['src/', '.gitignore'], out: [] } },
    });
    assert.equal(final.state, 'COMPLETED', explain(final));
    const delivered = execFileSync('git', ['-C', repo, 'show', `${deliveryBranch(input.taskId)}:src/id.js`]);
    assert.equal(delivered.toString('utf8'), IDENT);
  });

  it("a repository's own line-end rules still hold: a CRLF rewrite of an eol=crlf file is no change", async () => {
    const { final } = await runTask({
      files: {
        'src/app.js': 'module.exports = 1;\n',
        'src/notes.txt': 'a\nb\n',
        '.gitattributes': '*.txt text eol=crlf\n',
      },
      steps: [...GOOD_PLAN, nodeStep("require('fs').writeFileSync('src/notes.txt', 'a\\r\\nb\\r\\n')")],
    });
    assert.equal(final.state, 'COMPLETED', explain(final));
    assert.equal(final.diff?.filesChanged, 1, 'only src/feature.js changed');
  });

  for (const name of ['src/.git.', 'src/git~1/x\ny'])
    it(`a name git refuses to stage (${JSON.stringify(name)}) fails the task at once, naming it, as the agent's FAIL`, async () => {
      const write = `const fs = require('fs'); fs.mkdirSync(require('path').dirname(${JSON.stringify(name)}), { recursive: true }); fs.writeFileSync(${JSON.stringify(name)}, 'x')`;
      const { final, tenant } = await runTask({ steps: [...GOOD_PLAN, nodeStep(write)] });
      assert.equal(final.state, 'FAILED', explain(final));
      assert.equal(final.error?.type, 'PolicyViolationError', explain(final));
      assert.ok(
        final.error?.message.startsWith(`measure '${name}' refused: a name git refuses to stage`),
        final.error?.message,
      );
      assert.deepEqual(await tasksAndFailures(tenant), [[1, 1]]);
    });
});
