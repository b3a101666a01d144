/**
 * Attack: the tree gate took what measuring found beside the tree (nested repositories kept out of
 * it, ignored files left behind) from its caller. An insider's own workflow code measured a
 * workspace holding a nested repository, then handed `checkBudgetAndScope` an empty list: the gate
 * passed a change it refuses. It now reads them from the tree's newest measurement, and judges no
 * tree the task never measured. (Found in attack and review.)
 */
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import type { DiffSummary } from '../../domain/activity-io';
import type { GateResult } from '../../domain/task';
import { gitIn } from '../helpers/fixtures';
import { insiderRun, refusedAs, type Run } from './insider-run';

/** `checkBudgetAndScope` of `r`'s `diff`, by attempt `attempt`, told there is no nested repository. */
function checkSayingNone(r: Run, diff: DiffSummary, attempt: number): Promise<GateResult[]> {
  return r.env.run(r.a.checkBudgetAndScope, {
    ...r.at,
    attempt,
    treeId: diff.treeId,
    spec: r.validated.specRef!,
    policy: r.trusted!.policy,
    trustedCommit: r.ws.baseCommit,
    nestedRepositories: [],
    leftBehind: { count: 0, paths: [] },
  });
}

describe('governance: what measuring found beside the tree is read from the record', function () {
  this.timeout(120_000);

  it('a nested repository the measurement found fails the tree gate, whatever the caller says', async () => {
    const r = await insiderRun();
    mkdirSync(path.join(r.ws.workspacePath, 'src', 'vendor', '.git'), { recursive: true });
    writeFileSync(path.join(r.ws.workspacePath, 'src', 'vendor', '.git', 'HEAD'), 'ref: refs/heads/main\n');
    const second: DiffSummary = await r.env.run(r.a.measureDiff, { ...r.at, attempt: 2 });
    assert.deepEqual(second.nestedRepositories, ['src/vendor']);
    // Kept out of it, the repository leaves the tree attempt 1 measured clean: naming that attempt changes nothing.
    assert.equal(second.treeId, r.diff.treeId);
    for (const attempt of [1, 2]) {
      const tree = (await checkSayingNone(r, second, attempt)).find((g) => g.name === 'tree');
      assert.equal(tree?.status, 'fail', tree?.detail);
      assert.match(tree?.detail ?? '', /src\/vendor holds a \.git of its own/);
    }
  });

  it('no tree is judged that the task never measured', async () => {
    const r = await insiderRun();
    const baseTree = gitIn(r.repoPath, 'rev-parse', `${r.ws.baseCommit}^{tree}`);
    await assert.rejects(
      checkSayingNone(r, { ...r.diff, treeId: baseTree }, 1),
      refusedAs('RecordMismatchError', /task .* measured no tree/),
    );
  });
});
