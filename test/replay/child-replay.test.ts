/**
 * The child runs a set records (v9 on) are replayed, not only kept: a change to
 * `agentConversation` that would break the conversations of open tasks fails the replay of their
 * recorded runs, the first and the continued-as-new ones alike, while the task's own run, whose
 * commands did not change, still replays. Needs no Temporal server and no database.
 */
import assert from 'node:assert/strict';
import type { WorkflowBundle } from '@temporalio/worker';
import { DeterminismViolationError } from '@temporalio/workflow';
import { SILENT_LOGGER } from '../../workers/logger';
import { bundleArbiterWorkflows } from '../../workers/workflow-bundle';
import { readFixtureSet, workflowTypeOf } from './history-fixtures';
import { bundleAt, installQuietRuntime, replayAll } from './replay-all';

/** The first set that records child runs. */
const SET = 'v9';

describe('replaying recorded child workflow runs', function () {
  this.timeout(120_000);
  const fixtures = readFixtureSet(SET).filter((f) => f.path.startsWith('openai-conversation'));
  const children = fixtures.filter((f) => workflowTypeOf(f.history) === 'agentConversation');
  let altered: WorkflowBundle;

  before(async () => {
    installQuietRuntime();
    altered = await bundleAt(require.resolve('./altered-conversation'));
  });

  it(`set ${SET} holds the openai conversation's runs: a first one and one it continued as new into`, () => {
    const starts = children.map((f) => f.history.events[0].workflowExecutionStartedEventAttributes!);
    assert.ok(starts.length >= 2, `${starts.length} conversation run(s)`);
    assert.equal(starts.filter((s) => !s.continuedExecutionRunId).length, 1, 'one first run');
  });

  it('replays the conversation runs clean against the real code', async () => {
    const failures = await replayAll(await bundleArbiterWorkflows(SILENT_LOGGER), fixtures);
    assert.deepEqual([...failures].map(String), []);
  });

  it('fails every conversation run, naming it, with a nondeterminism error when agentConversation commands something else first', async () => {
    const failures = await replayAll(altered, fixtures);
    assert.deepEqual(
      [...failures.keys()].sort(),
      children.map((f) => `${SET}/${f.path}`).sort(),
      'the child runs fail, the task run does not',
    );
    for (const [name, err] of failures) assert.ok(err instanceof DeterminismViolationError, `${name}: ${String(err)}`);
  });
});
