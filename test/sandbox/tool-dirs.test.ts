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

  it('binds only a folder under the roots, outside the worker home, symlinks resolved', () => {
    const root = tempDir('arbiter-tool-root-');
    const home = path.join(tempDir('arbiter-tool-home-'), 'home');
    mkdirSync(path.join(home, 'keys'), { recursive: true });
    const install = path.join(root, 'cli');
    mkdirSync(install);
    symlinkSync(home, path.join(root, 'to-home'));
    symlinkSync('/etc', path.join(root, 'to-etc'));
    const refusal = (dir: string) => toolDirRefusal(dir, { roots: [root], home });

    assert.equal(refusal(install), undefined);
    assert.equal(refusal(root), undefined, 'a root itself');
    assert.match(refusal(path.join(root, 'gone')) ?? '', /is missing on this worker/);
    for (const dir of [home, path.join(home, 'keys'), path.dirname(home), '/'])
      assert.match(refusal(dir) ?? '', /would show the agent the worker's home/, dir);
    assert.match(refusal(path.join(root, 'to-home')) ?? '', new RegExp(`to-home \\(${home}\\) would show`));
    assert.match(refusal(path.join(root, 'to-etc')) ?? '', /to-etc \(\/etc\) is outside the folders/);
    assert.match(refusal('/etc') ?? '', /is outside the folders this worker binds for agents \(ARBITER_TOOL_DIRS: /);
    assert.match(
      toolDirRefusal(install, { roots: [], home }) ?? '',
      /ARBITER_TOOL_DIRS: none/,
      'no roots: nothing is bound',
    );
  });

  it("fails the run, the agent never started, when a registration names the worker's home or a folder outside the roots", async () => {
    const stack = testStack();
    for (const [toolDir, reason] of [
      [stack.home, /would show the agent the worker's home/],
      ['/etc', /is outside the folders this worker binds for agents/],
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
