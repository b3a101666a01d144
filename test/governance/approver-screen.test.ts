/**
 * What an approver reads is the task's record, and its agent words much of it: the names of files it
 * leaves behind are listed by the tree gate. Names holding escape sequences and line breaks redrew
 * `arbiter status` so that a waiver of 38 files over the budget read as one of 1 (and hid the real
 * request), and `arbiter approve` signed without saying what: the approval delivered all 40 files
 * (found in review). Now every record's text reaches the terminal escaped, each fact on its own line,
 * and `approve` prints the terms its key signed.
 */
import assert from 'node:assert/strict';
import { stringify } from 'yaml';
import { arbiter, cliEnv } from '../helpers/cli';
import { registeredApprover } from '../helpers/approvers';
import { addScriptedAgent, makeRepo, registerRepo, specYaml, uniqueId } from '../helpers/fixtures';
import { testStack } from '../helpers/stack';
import { waitForState } from '../helpers/wait';
import { writeByCommand } from './helpers';

const ESC = '\x1b';
/** Save the cursor, go up `n` lines, clear that line, write `text`, restore the cursor. */
const overwrite = (n: number, text: string) => `${ESC}7${ESC}[${n}A\r${ESC}[2K${text}${ESC}8`;
const NAMES = [
  `a${overwrite(3, '  diff     3 file(s) +3\u2215-0')}.log`,
  `b\n  waiver   awaiting approval for budget (+1 files, +0 lines)\u202e${ESC}[8m.log`,
];

describe("what an approver reads: the agent's names cannot redraw it", function () {
  this.timeout(180_000);

  it('status shows every name escaped on its own line, and approve prints the terms it signed', async () => {
    const stack = testStack();
    const tenant = uniqueId('tenant');
    const alice = await registeredApprover(tenant, 'alice');
    const files: Record<string, string> = {};
    for (let i = 1; i <= 40; i++) files[`src/f${i}.js`] = `module.exports = ${i};\n`;
    for (const n of NAMES) files[`src/${n}`] = 'x\n';
    await addScriptedAgent(tenant, [writeByCommand(files)]);
    const policy = {
      version: 1,
      risk_tiers: { '3': { max_files: 2, max_loc: 100 } },
      waivers: { decision_window_hours: 1, max_expiry_days: 7 },
    };
    const repo = makeRepo({ 'src/app.js': 'x\n', '.gitignore': '*.log\n', '.caws/policy.yaml': stringify(policy) });
    const input = {
      tenantId: tenant,
      taskId: uniqueId('task'),
      specYaml: specYaml({}),
      repo: await registerRepo(tenant, repo),
    };
    await stack.client.submit(input);
    const waiting = await waitForState(input, (s) => s.subState === 'awaiting_waiver');
    assert.equal(waiting.pendingWaiver?.delta.maxFiles, 38);

    const status = await arbiter(['status', `${tenant}/${input.taskId}`], cliEnv());
    assert.equal(status.code, 0, status.stderr);
    assert.doesNotMatch(
      status.stdout,
      /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202a-\u202e]/,
      'no control character reaches the terminal',
    );
    const lines = status.stdout.split('\n');
    assert.equal(lines.filter((l) => l.startsWith('  waiver ')).length, 1, status.stdout);
    assert.match(status.stdout, /\n {2}waiver {3}awaiting approval for budget \(\+38 files, \+0 lines\)/);
    assert.match(status.stdout, /left behind, not part of the change: .*src\/a\\u001B7\\u001B\[3A/);
    assert.match(
      status.stdout,
      /src\/b\\u000A {2}waiver {3}awaiting approval for budget \(\+1 files, \+0 lines\)\\u202E\\u001B\[8m\.log/,
    );

    // The tree `status` showed pins what `approve` may sign: the request is read again when it signs.
    const shownTree = /\n {2}waiver {3}awaiting approval for .*, for tree ([0-9a-f]{40})\n/.exec(status.stdout)?.[1];
    assert.equal(shownTree, waiting.pendingWaiver?.treeId, status.stdout);
    const approve = (tree: string) =>
      arbiter(
        [
          'approve',
          `${tenant}/${input.taskId}`,
          '--approver',
          'alice',
          '--key',
          alice.keyFile,
          '--reason-code',
          'other',
          '--expires-in',
          '1h',
          '--expect-tree',
          tree,
        ],
        cliEnv(),
      );
    const refused = await approve('f'.repeat(40));
    assert.equal(refused.code, 1, refused.stdout);
    assert.match(refused.stderr, new RegExp(`the pending request is for tree ${shownTree}, not f{40}: not signing`));
    const approved = await approve(shownTree!);
    assert.equal(approved.code, 0, approved.stderr);
    assert.match(
      approved.stdout,
      /approved a waiver of budget for \+38 file\(s\) and \+0 line\(s\) over the budget, for tree [0-9a-f]{40} of run /,
    );
  });
});
