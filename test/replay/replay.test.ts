/**
 * Every committed history (test/fixtures/histories/<set>/<path>.json, from v9 on the child runs
 * those paths started too) replays against the current workflow code: a change that would break
 * tasks left open by an earlier release fails here, naming the fixture. Needs no Temporal server
 * and no database. child-replay.test.ts shows a changed child workflow fails it.
 */
import assert from 'node:assert/strict';
import { bundleWorkflowCode, type WorkflowBundle } from '@temporalio/worker';
import { temporal } from '@temporalio/proto';
import { DeterminismViolationError } from '@temporalio/workflow';
import { SILENT_LOGGER } from '../../workers/logger';
import { RETRY_WITH_FEEDBACK_PATCH } from '../../workflows/retry';
import { BEST_OF_N_PATCH } from '../../workflows/candidates';
import { BOUNDED_TASK_INPUT_PATCH, CANDIDATE_INPUT_PATCH } from '../../workflows/task-lifecycle';
import { RELEASE_7_PATCH } from '../../workflows/patches';
import { bundleArbiterWorkflows, workflowBundleOptions } from '../../workers/workflow-bundle';
import {
  fixtureSets,
  missingChildRuns,
  pathsRequiredIn,
  readFixtureSet,
  type HistoryFixture,
} from './history-fixtures';
import { bundleAt, installQuietRuntime, replayAll } from './replay-all';

/** The patches a recorded run took, as their markers' JSON. */
function patchesOf(fixture: HistoryFixture): string[] {
  return (fixture.history.events ?? [])
    .map((e) => e.markerRecordedEventAttributes)
    .filter((m) => m?.markerName === 'core_patch')
    .map((m) => Buffer.from(m!.details!['patch-data'].payloads![0].data!).toString('utf8'));
}

/** `fixture` as if its task had been submitted, before the input limits, with a 70 KiB spec and a 300-character baseRef. */
function withOversizedInput(fixture: HistoryFixture): HistoryFixture {
  return withInput(fixture, (input) => {
    input.specYaml += `\n# ${'x'.repeat(70 * 1024)}\n`;
    input.baseRef = 'r'.repeat(300);
  });
}

/** `fixture` with its task input changed by `change`, as if it had been submitted so. */
function withInput(
  fixture: HistoryFixture,
  change: (input: { specYaml: string; baseRef?: string; gates?: unknown[] }) => void,
): HistoryFixture {
  const history = temporal.api.history.v1.History.fromObject(temporal.api.history.v1.History.toObject(fixture.history));
  const [payload] = history.events[0].workflowExecutionStartedEventAttributes!.input!.payloads!;
  const input = JSON.parse(Buffer.from(payload.data!).toString('utf8')) as Parameters<typeof change>[0];
  change(input);
  payload.data = Buffer.from(JSON.stringify(input));
  return { ...fixture, history };
}

describe('replaying recorded histories', function () {
  this.timeout(120_000);
  const sets = fixtureSets();
  let current: WorkflowBundle;
  let traced: WorkflowBundle;

  before(async () => {
    installQuietRuntime();
    current = await bundleArbiterWorkflows(SILENT_LOGGER);
    traced = await bundleArbiterWorkflows(SILENT_LOGGER, true);
  });

  it('has the v1 set: histories of tasks left open by the release before any replay test', () => {
    assert.ok(sets.includes('v1'), `sets: ${sets.join(', ')}`);
  });

  for (const set of sets) {
    it(`set ${set} covers every lifecycle path (from v9 on, and the child runs they start)`, () => {
      const fixtures = readFixtureSet(set);
      const recorded = fixtures.map((f) => f.path);
      assert.deepEqual(
        pathsRequiredIn(set).filter((p) => !recorded.includes(p)),
        [],
        `missing fixtures in ${set}`,
      );
      assert.deepEqual(missingChildRuns(set, fixtures), [], `missing child runs in ${set}`);
    });

    it(`set ${set} replays against the current workflow code, untraced and traced`, async () => {
      for (const bundle of [current, traced]) {
        const failures = await replayAll(bundle, readFixtureSet(set));
        const report = [...failures].map(([name, err]) => `${name}: ${err.name}: ${err.message}`);
        assert.deepEqual(report, [], `nondeterminism (${bundle === traced ? 'traced' : 'untraced'})`);
      }
    });
  }

  it('set v2 took the patched branch: its host-lost run records the release-abandoned-workspaces patch', () => {
    const [lost] = readFixtureSet('v2').filter((f) => f.path === 'host-lost');
    assert.deepEqual(patchesOf(lost), ['{"id":"release-abandoned-workspaces","deprecated":false}']);
  });

  it('set v4 runs under the input limits: every history records the bounded-task-input patch', () => {
    for (const fixture of readFixtureSet('v4')) {
      const marker = JSON.stringify({ id: BOUNDED_TASK_INPUT_PATCH, deprecated: false });
      assert.ok(patchesOf(fixture).includes(marker), `${fixture.path}: ${patchesOf(fixture)}`);
    }
  });

  it('set v5 retried with feedback: its retried and failed runs record the retry-with-feedback patch, older sets none', () => {
    const marker = JSON.stringify({ id: RETRY_WITH_FEEDBACK_PATCH, deprecated: false });
    const retrying = readFixtureSet('v5').filter((f) => patchesOf(f).includes(marker));
    assert.deepEqual(retrying.map((f) => f.path).sort(), ['failed', 'retried', 'waived', 'waiver-expired']);
    for (const set of ['v1', 'v2', 'v3', 'v4'])
      for (const fixture of readFixtureSet(set))
        assert.ok(!patchesOf(fixture).includes(marker), `${set}/${fixture.path}`);
  });

  it('set v6 runs under the candidate checks: every history records candidate-inputs, its best-of-n run best-of-n', () => {
    const inputs = JSON.stringify({ id: CANDIDATE_INPUT_PATCH, deprecated: false });
    const bestOfN = JSON.stringify({ id: BEST_OF_N_PATCH, deprecated: false });
    for (const fixture of readFixtureSet('v6')) {
      assert.ok(patchesOf(fixture).includes(inputs), `${fixture.path}: ${patchesOf(fixture)}`);
      assert.equal(patchesOf(fixture).includes(bestOfN), fixture.path === 'best-of-n', fixture.path);
    }
  });

  it('set v7 runs on release 7: each run records one patch marker, release 7, and upserts its own search attributes at most once a workflow task', () => {
    const marker = JSON.stringify({ id: RELEASE_7_PATCH, deprecated: false });
    for (const fixture of readFixtureSet('v7')) {
      assert.deepEqual(patchesOf(fixture), [marker], fixture.path);
      const perTask = new Map<string, number>();
      for (const e of fixture.history.events ?? []) {
        const fields = e.upsertWorkflowSearchAttributesEventAttributes?.searchAttributes?.indexedFields;
        if (!fields || 'TemporalChangeVersion' in fields) continue;
        const task = String(e.upsertWorkflowSearchAttributesEventAttributes!.workflowTaskCompletedEventId);
        perTask.set(task, (perTask.get(task) ?? 0) + 1);
      }
      assert.deepEqual(
        [...perTask].filter(([, n]) => n > 1),
        [],
        fixture.path,
      );
      const shown = new Map<string, string>();
      for (const e of fixture.history.events ?? [])
        for (const [key, value] of Object.entries(
          e.upsertWorkflowSearchAttributesEventAttributes?.searchAttributes?.indexedFields ?? {},
        ))
          shown.set(key, JSON.parse(Buffer.from(value.data!).toString('utf8')) as string);
      const ended: Record<string, string> = {
        rejected: 'REJECTED',
        cancelled: 'CANCELLED',
        failed: 'FAILED',
        'waiver-expired': 'FAILED',
      };
      assert.equal(
        shown.get('ArbiterState'),
        ended[fixture.path] ?? 'COMPLETED',
        `${fixture.path}: its last state shown`,
      );
      assert.ok(shown.get('TenantId'), `${fixture.path}: TenantId shown`);
    }
    const [completed] = readFixtureSet('v7').filter((f) => f.path === 'completed');
    const upserts = (completed.history.events ?? []).filter((e) => e.upsertWorkflowSearchAttributesEventAttributes);
    assert.ok(upserts.length <= 7, `${upserts.length} upserts in a completed run (16 in v6)`);
  });

  it('set upgrade-v6-v7: a run started on v6 code and moved to release 7 while it waited for its waiver records release 7 after its own markers', () => {
    const [upgraded] = readFixtureSet('upgrade-v6-v7');
    const ids = patchesOf(upgraded).map((m) => (JSON.parse(m) as { id: string }).id);
    assert.equal(ids.at(-1), RELEASE_7_PATCH, ids.join(', '));
    assert.ok(ids.includes(CANDIDATE_INPUT_PATCH), ids.join(', '));
  });

  it('runs started before the input limits replay although their input is over them (a 70 KiB spec, a long baseRef)', async () => {
    const fixtures = readFixtureSet('v3')
      .filter((f) => f.path === 'completed' || f.path === 'waived')
      .map(withOversizedInput);
    const failures = await replayAll(current, fixtures);
    assert.deepEqual([...failures.keys()], [], [...failures.values()].map(String).join('\n'));
  });

  it('runs started before gate arguments were refused a NUL replay although one of theirs holds one', async () => {
    const fixtures = readFixtureSet('v9')
      .filter((f) => f.path === 'rejected') // ended before any gate: a gate added to the input changes nothing else
      .map((f) => withInput(f, (input) => (input.gates = [...(input.gates ?? []), { name: 'nul', argv: ['a\0b'] }])));
    const failures = await replayAll(current, fixtures);
    assert.deepEqual([...failures.keys()], [], [...failures.values()].map(String).join('\n'));
  });

  it('a bundle without the visibility interceptors fails a new run loudly instead of never writing its search attributes', async () => {
    const without = await bundleWorkflowCode({
      ...workflowBundleOptions(),
      workflowInterceptorModules: [],
      logger: SILENT_LOGGER,
    });
    const failures = await replayAll(
      without,
      readFixtureSet('v7').filter((f) => f.path === 'completed'),
    );
    assert.match(String(failures.get('v7/completed')), /not among the bundle's workflow interceptor modules/);
  });

  it('fails, naming the fixture, when the workflow schedules a different command', async () => {
    const altered = await bundleAt(require.resolve('./altered-workflow'));
    const fixtures = readFixtureSet('v1').filter((f) => f.path === 'completed');
    const failures = await replayAll(altered, fixtures);
    assert.deepEqual([...failures.keys()], ['v1/completed']);
    assert.ok(failures.get('v1/completed') instanceof DeterminismViolationError, String(failures.get('v1/completed')));
  });
});
