/**
 * An agent's `toolDirs` are the tenant's words: the worker binds only folders under the ones its
 * operator names (ARBITER_TOOL_DIRS), never its own home, symlinks resolved. Before, a registration
 * naming ARBITER_HOME showed the agent the verdict signing key and every task's workspace (a worker
 * that is not root runs commands as itself).
 */
import assert from 'node:assert/strict';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { toolDirRefusal } from '../../host/sandbox/tool-dirs';
import { addCommandAgent, taskInput, uniqueId } from '../helpers/fixtures';
import { testStack } from '../helpers/stack';
import { tempDir, traversableTempDir } from '../helpers/temp';

describe('the folders an agent may have bound (toolDirs)', function () {
  this.timeout(120_000);

  it('binds only a real folder under the roots, clear of the protected paths, and says no more than that', () => {
    const root = tempDir('arbiter-tool-root-');
    const home = path.join(root, 'home');
    mkdirSync(path.join(home, 'keys'), { recursive: true });
    const install = path.join(root, 'cli');
    mkdirSync(install);
    symlinkSync(home, path.join(root, 'to-home'));
    symlinkSync(install, path.join(root, 'to-cli'));
    symlinkSync('/etc', path.join(root, 'to-etc'));
    const rules = { roots: [root], protectedPaths: [home] };
    const refusal = (dir: string) => toolDirRefusal(dir, rules);
    const NOT_BOUND = /is not one this worker binds for agents: a real folder \(no symlinks\) under ARBITER_TOOL_DIRS/;

    assert.equal(refusal(install), undefined);
    assert.equal(refusal(`${install}/`), undefined, 'a trailing slash');
    assert.match(refusal(path.join(root, 'gone')) ?? '', /is missing on this worker/);
    for (const dir of [home, path.join(home, 'keys'), root, '/', '/etc', `${install}/../cli`, `${root}//cli`])
      assert.match(refusal(dir) ?? '', NOT_BOUND, dir);
    for (const link of ['to-home', 'to-cli', 'to-etc']) {
      const said = refusal(path.join(root, link)) ?? '';
      assert.match(said, NOT_BOUND, link);
      assert.ok(!said.includes(home) && !said.includes('/etc'), `${link}: the refusal does not say where it leads`);
    }
    assert.match(refusal('/opt/missing-anyway') ?? '', NOT_BOUND, 'outside the roots: not said whether it exists');
    assert.match(toolDirRefusal(install, { ...rules, roots: [] }) ?? '', /ARBITER_TOOL_DIRS \(none\)/);
  });

  it("fails the run, the agent never started, when a registration names the worker's home or a folder outside the roots", async () => {
    const stack = testStack();
    for (const [toolDir, reason] of [
      [stack.home, /is not one this worker binds for agents/],
      ['/etc', /is not one this worker binds for agents/],
    ] as const) {
      const tenant = uniqueId('tenant');
      // Were it run, it would copy the signing key into the change the verdict covers.
      await addCommandAgent(tenant, `cat ${stack.home}/keys/* > src/leak.txt`, {
        toolDirs: [toolDir],
      });
      const input = await taskInput(tenant);
      await stack.client.submit(input);
      const final = await stack.client.watch(input, undefined, 250);
      assert.equal(final.state, 'FAILED', JSON.stringify(final));
      assert.equal(final.error?.type, 'AgentConfigError', JSON.stringify(final.error));
      assert.match(final.error?.message ?? '', reason);
      assert.ok(!final.delivery, 'nothing delivered');
    }
  });

  it('runs an agent whose tool folder lies under a root (control)', async () => {
    const tools = traversableTempDir('arbiter-tool-ok-');
    writeFileSync(path.join(tools, 'feature.js'), 'module.exports = () => 42;\n', { mode: 0o644 });
    const tenant = uniqueId('tenant');
    await addCommandAgent(tenant, `mkdir -p src && cp ${tools}/feature.js src/feature.js`, { toolDirs: [tools] });
    const input = await taskInput(tenant);
    await testStack().client.submit(input);
    const final = await testStack().client.watch(input, undefined, 250);
    assert.equal(final.state, 'COMPLETED', JSON.stringify(final.error));
  });
});
