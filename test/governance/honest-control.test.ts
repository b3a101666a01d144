/**
 * Control for the whole suite: an honest task in the same kind of repository (a policy with
 * command gates, a submitter gate, an acceptance test_command) completes and is delivered, and
 * its signed verdict records which policy judged it (digest, file, trusted ref and commit) and,
 * for every gate, who asked for it and the exact command it ran.
 */
import assert from 'node:assert/strict';
import { taskWorkflowId } from '../../temporal-config';
import { gitIn } from '../helpers/fixtures';
import { gateOf, leftBehindOrNone, policyYaml, runTask, sha256, verdictPayload } from './helpers';

const TESTS = ['node', 'test.js'];
const LINT = ['node', '-e', "process.exit(require('fs').readFileSync('src/sum.js', 'utf8').includes('\\t') ? 1 : 0)"];
const POLICY = policyYaml({
  gates: { tests: { mode: 'block', command: TESTS }, lint: { mode: 'block', command: LINT } },
});
const EXTRA = ['node', '-e', "require('./src/sum.js')"];

describe('governance: an honest task still passes', function () {
  this.timeout(120_000);

  it('completes, is delivered, and the verdict records the policy digest and each gate with its source and argv', async () => {
    const r = await runTask({
      files: {
        '.caws/policy.yaml': POLICY,
        'test.js':
          "const sum = require('./src/sum');\nif (sum(2, 3) !== 5) { console.error('sum is broken'); process.exit(1); }\n",
        'src/sum.js': 'module.exports = (a, b) => a - b;\n',
        'README.md': '# sums\n',
      },
      spec: {
        acceptance: [{ id: 'A1', given: 'two numbers', when: 'summed', then: 'the sum', test_command: 'node test.js' }],
      },
      gates: [{ name: 'extra', argv: EXTRA }],
      steps: [{ op: 'replace', path: 'src/sum.js', search: 'a - b', replace: 'a + b' }],
    });
    const { final, repo, input } = r;
    const table = final.gates.map((g) => [g.name, g.status, g.source]);
    assert.equal(
      final.state,
      'COMPLETED',
      JSON.stringify({ error: final.error, gates: final.gates.map((g) => [g.name, g.status, g.detail]) }),
    );
    assert.deepEqual(table, [
      ['budget', 'pass', 'arbiter'],
      ['scope', 'pass', 'arbiter'],
      ['spec', 'pass', 'arbiter'],
      ['protected', 'pass', 'arbiter'],
      ['tree', 'pass', 'arbiter'],
      ['tests', 'pass', 'policy'],
      ['lint', 'pass', 'policy'],
      ['extra', 'pass', 'submitter'],
      ['acceptance-A1', 'pass', 'acceptance'],
    ]);
    assert.match(gateOf(final, 'budget').detail, /^1\/\d+ files, 2\/\d+ lines, \d+\/\d+ bytes \(budget from /);
    assert.equal(leftBehindOrNone(final), undefined, 'an honest change leaves nothing behind');

    // Delivered: exactly the verified tree, on the base commit.
    const branch = `arbiter/${input.taskId}`;
    assert.equal(final.delivery?.branch, branch);
    assert.equal(gitIn(repo, 'rev-parse', `${branch}^{tree}`), final.diff?.treeId);
    assert.equal(gitIn(repo, 'show', `${branch}:src/sum.js`), 'module.exports = (a, b) => a + b;');

    const payload = await verdictPayload(r.tenant, input.taskId);
    assert.equal(payload.outcome, 'PASS');
    assert.equal(payload.schema, 'arbiter.verdict/v2');
    assert.equal(payload.run.workflowId, taskWorkflowId(input));
    assert.deepEqual(payload.policy, {
      source: 'current',
      digest: sha256(POLICY),
      file: '.caws/policy.yaml',
      ref: payload.policy.ref,
      commit: gitIn(repo, 'rev-parse', 'main'),
    });
    assert.match(payload.policy.ref, /(^|\/)main$/);
    assert.equal(payload.diff.treeId, final.diff?.treeId);
    const signed = Object.fromEntries(payload.gates.map((g) => [g.name, g]));
    for (const name of ['budget', 'scope', 'spec', 'protected', 'tree']) {
      assert.equal(signed[name]?.source, 'arbiter', name);
      assert.equal(signed[name]?.argv, undefined, `${name} runs no command`);
    }
    assert.deepEqual([signed.tests?.source, signed.tests?.argv], ['policy', TESTS]);
    assert.deepEqual([signed.lint?.source, signed.lint?.argv], ['policy', LINT]);
    assert.deepEqual([signed.extra?.source, signed.extra?.argv], ['submitter', EXTRA]);
    assert.equal(signed['acceptance-A1']?.source, 'acceptance');
    assert.ok(
      signed['acceptance-A1']?.argv?.join(' ').includes('node test.js'),
      JSON.stringify(signed['acceptance-A1']),
    );
    assert.deepEqual(
      payload.gates.map((g) => g.name),
      final.gates.map((g) => g.name),
      'the verdict has every gate, in order',
    );
  });
});
