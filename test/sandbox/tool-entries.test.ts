/**
 * Escape suite, file tools and the workspace's entries. Found in review: `file_write` of empty
 * content cost nothing of the per-task write limit, and each made every missing folder of its
 * path, up to 2,000 deep; six such calls put 12,016 entries in a workspace of 5,000, and no
 * number of them was refused. Each file or folder a write makes is now charged, and a path is
 * at most 128 names deep.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { TOOL_ENTRY_CHARGE } from '../../host/sandbox/audit';
import { OPEN_POLICY, sandboxTask, smallConfig, type SandboxTask } from './escape-helpers';

/** Folders under `dir`, counted down the single chain a deep write makes. */
function chainDepth(dir: string): number {
  let n = 0;
  for (let p = path.join(dir, 'd'); existsSync(p); p = path.join(p, 'd')) n++;
  return n;
}

describe('sandbox escapes: entries made by the file tools', function () {
  this.timeout(60_000);
  let t: SandboxTask;
  const limit = 100 * TOOL_ENTRY_CHARGE;
  before(async () => (t = await sandboxTask({ config: smallConfig({ toolTaskBytes: limit }) })));
  after(() => t.release());
  const call = () => ({ tenantId: t.tenantId, taskId: t.taskId, workspacePath: t.tree, policy: OPEN_POLICY });

  it('refuses a path deeper than 128 names, making nothing', async () => {
    const deep = `src/${'d/'.repeat(128)}empty.txt`;
    const row = await t.expectRefused('file_write', () => t.tools.fileWrite({ ...call(), path: deep, content: '' }));
    assert.match(row.reason ?? '', /deeper than a path may be \(128 names\)/);
    assert.equal(chainDepth(path.join(t.tree, 'src')), 0, 'no folder was made');
    const chunk = `${'d\\'.repeat(100)}d`; // one name split at '/', 101 folders on disk
    const backslashed = `src/${chunk}/${chunk}/empty.txt`;
    const split = await t.expectRefused('file_write', () =>
      t.tools.fileWrite({ ...call(), path: backslashed, content: '' }),
    );
    assert.match(split.reason ?? '', /deeper than a path may be/);
    assert.equal(chainDepth(path.join(t.tree, 'src')), 0, 'nor through backslashes');
  });

  it('charges each file and folder an empty write makes, until the task may write no more', async () => {
    const chain = (n: number) => `deep/${'d/'.repeat(n)}f`;
    await t.tools.fileWrite({ ...call(), path: chain(40), content: '' }); // 42 entries
    await t.tools.fileWrite({ ...call(), path: `deep/${'d/'.repeat(40)}g`, content: '' }); // 1 more
    const row = await t.expectRefused('file_write', () =>
      t.tools.fileWrite({ ...call(), path: `deep/${'d/'.repeat(100)}h`, content: '' }),
    );
    assert.match(row.reason ?? '', /each file or folder made counts 4096\), over the limit of 409600/);
    assert.equal(chainDepth(path.join(t.tree, 'deep')), 40, 'the refused write made no folder');
    await t.tools.fileWrite({ ...call(), path: chain(40), content: 'x'.repeat(1000) }); // an existing file: its bytes only
    await t.expectRefused('file_write', () =>
      t.tools.fileWrite({ ...call(), path: chain(40), content: 'x'.repeat(57 * TOOL_ENTRY_CHARGE) }),
    );
  });
});
