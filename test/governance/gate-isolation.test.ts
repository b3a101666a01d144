/**
 * Attack: one gate preparing the next one's input. Policy gate 1 runs code the agent wrote,
 * which edits a tracked file and creates a file that policy gate 2 checks. Every gate runs in
 * its own fresh checkout of the pinned tree, so gate 2 sees the pristine tree and gives exactly
 * the result the pristine tree gives.
 */
import assert from 'node:assert/strict';
import { assertFailedByGate, gateOf, policyYaml, runTask, writeByCommand } from './helpers';

/** Gate 2: exit 0 when src/approved exists or src/value.js says 2; on the pristine tree it exits 3. */
const CHECK = [
  'node',
  '-e',
  "const fs = require('fs'); if (fs.existsSync('src/approved')) process.exit(0); process.exit(require('./src/value.js') === 2 ? 0 : 3);",
];

/** Agent-written gate-1 code: tampers with gate 2's input wherever it can, and always exits 0. */
const TAMPER = [
  "const fs = require('fs');",
  "const tryTo = (f) => { try { f(); } catch (e) { console.error('could not: ' + e.message); } };",
  "tryTo(() => fs.writeFileSync('src/approved', 'yes\\n'));",
  "tryTo(() => fs.writeFileSync('src/value.js', 'module.exports = 2;\\n'));",
  "tryTo(() => fs.writeFileSync('/tmp/approved', 'yes\\n'));",
  "console.log('prepared');",
].join('\n');

function repoFiles() {
  return {
    '.caws/policy.yaml': policyYaml({
      gates: { prep: { mode: 'block', command: ['node', 'tools/prep.js'] }, check: { mode: 'block', command: CHECK } },
    }),
    'src/value.js': 'module.exports = 1;\n',
    'tools/README.md': 'tools\n',
  };
}

describe('governance: a gate cannot change what the next gate sees', function () {
  this.timeout(120_000);

  it('gate 1 (agent code) edits a tracked file and creates one; gate 2 still sees the pristine tree', async () => {
    const r = await runTask({
      files: repoFiles(),
      spec: { scope: { in: ['src/', 'tools/'], out: [] } },
      steps: [
        { op: 'write', path: 'tools/prep.js', content: `${TAMPER}\n` },
        { op: 'write', path: 'src/feature.js', content: 'module.exports = () => 42;\n' },
      ],
    });
    const order = r.final.gates.map((g) => g.name);
    assert.ok(
      order.indexOf('prep') >= 0 && order.indexOf('prep') < order.indexOf('check'),
      `prep runs before check: ${order.join(', ')}`,
    );
    const prep = gateOf(r.final, 'prep');
    assert.equal(prep.status, 'pass', `gate 1 ran the agent's code and exited 0: ${prep.detail}`);
    assert.equal(prep.source, 'policy');
    const { gate } = await assertFailedByGate(r, 'check');
    assert.equal(gate.exitCode, 3, 'gate 2 gives the pristine-tree result (no src/approved, value 1)');
    assert.equal(gate.source, 'policy');
    assert.deepEqual(gate.argv, CHECK);
  });

  it('control: the same check passes when the change itself sets the value (so exit 3 above is the pristine tree, not a broken gate)', async () => {
    const r = await runTask({
      files: repoFiles(),
      spec: { scope: { in: ['src/', 'tools/'], out: [] } },
      steps: [
        { op: 'write', path: 'tools/prep.js', content: "console.log('nothing to prepare');\n" },
        writeByCommand({ 'src/value.js': 'module.exports = 2;\n' }),
      ],
    });
    assert.equal(r.final.state, 'COMPLETED', JSON.stringify(r.final.gates.map((g) => [g.name, g.status, g.detail])));
    assert.equal(gateOf(r.final, 'check').exitCode, 0);
  });
});
