/** The chaos run's per-task and per-agent checks and its report's verdict, without servers. */
import { strict as assert } from 'node:assert';
import { describeReport, type ChaosReport } from '../../bench/chaos/report';
import { checkAgent, checkTask, type TaskRecord } from '../../bench/chaos/task-checks';

const COMMIT = 'c0ffee';
const events = (...states: string[]) => states.map((toState, seq) => ({ runId: 'r1', seq, toState }));

/** A task that completed once, with everything recorded once; each test changes one thing. */
const completed = (change: Partial<TaskRecord> = {}): TaskRecord => ({
  key: 'chaos-quick/chaos-0',
  branch: 'arbiter/chaos-0',
  state: 'COMPLETED',
  error: null,
  workflow: 'COMPLETED',
  events: events('RECEIVED', 'VERIFYING', 'COMPLETED'),
  verdicts: 1,
  outcomes: 1,
  health: [true],
  deliveryRecords: [COMMIT],
  branchCommit: COMMIT,
  ...change,
});

const report = (change: Partial<ChaosReport> = {}): ChaosReport => ({
  tasks: 1,
  outcomes: { COMPLETED: 1 },
  errors: {},
  lost: [],
  duplicated: [],
  broken: [],
  stall: { ms: 0 },
  faultsByKind: { worker: 1, temporal: 1, postgres: 1 },
  seconds: 90,
  ...change,
});

describe('chaos checks', () => {
  it('find nothing wrong with a task that completed once, with everything recorded once', () => {
    assert.deepEqual(checkTask(completed()), { lost: [], duplicated: [], broken: [] });
  });

  it('count a task that FAILED before VERIFYING, without a verdict, as broken, naming its error', () => {
    const found = checkTask(
      completed({
        state: 'FAILED',
        error: 'workspace setup failed: git clone',
        workflow: 'COMPLETED',
        events: events('RECEIVED', 'ROUTING', 'FAILED'),
        verdicts: 0,
        outcomes: 0,
        health: [],
        deliveryRecords: [],
        branchCommit: undefined,
      }),
    );
    assert.deepEqual(found.broken, [
      'chaos-quick/chaos-0: ended FAILED, not COMPLETED: workspace setup failed: git clone',
      'chaos-quick/chaos-0: no verdict',
    ]);
  });

  it('count two verdicts as duplicated', () => {
    assert.deepEqual(checkTask(completed({ verdicts: 2 })).duplicated, ['chaos-quick/chaos-0: 2 verdicts']);
  });

  it('read the delivery from git: the branch must exist, at the commit recorded as delivered', () => {
    assert.deepEqual(checkTask(completed({ branchCommit: undefined })).broken, [
      'chaos-quick/chaos-0: COMPLETED but branch arbiter/chaos-0 does not exist',
    ]);
    assert.deepEqual(checkTask(completed({ branchCommit: 'beef' })).broken, [
      'chaos-quick/chaos-0: branch arbiter/chaos-0 is at beef, delivery recorded c0ffee',
    ]);
    assert.deepEqual(checkTask(completed({ deliveryRecords: [] })).broken, [
      'chaos-quick/chaos-0: COMPLETED without a delivery record',
    ]);
  });

  it('count a delivery branch of a task that did not complete as broken', () => {
    const found = checkTask(completed({ state: 'REJECTED', error: 'gate failed', deliveryRecords: [] }));
    assert.ok(
      found.broken.includes('chaos-quick/chaos-0: branch arbiter/chaos-0 exists though the task ended REJECTED'),
    );
  });

  it('require one healthy agent report and one outcome for the verdict', () => {
    assert.deepEqual(checkTask(completed({ health: [false] })).broken, [
      'chaos-quick/chaos-0: agent health reported an infrastructure failure',
    ]);
    assert.deepEqual(checkTask(completed({ health: [] })).broken, [
      'chaos-quick/chaos-0: verdict without an agent health report',
    ]);
    assert.deepEqual(checkTask(completed({ outcomes: 0 })).broken, [
      'chaos-quick/chaos-0: verdict without an agent outcome',
    ]);
  });

  it('count a task still running, or whose workflow is gone, as lost', () => {
    assert.equal(checkTask(completed({ state: 'EXECUTING', workflow: 'RUNNING' })).lost.length, 1);
    assert.equal(checkTask(completed({ workflow: 'not found (gone)' })).lost.length, 1);
  });

  it('count an agent with infrastructure failures, an open circuit or held capacity as broken', () => {
    const agent = { agentId: 'a', consecutiveInfraFailures: 0, circuitOpenUntil: null, running: 0 };
    assert.deepEqual(checkAgent(agent), []);
    assert.equal(checkAgent({ ...agent, consecutiveInfraFailures: 1 }).length, 1);
    assert.equal(checkAgent({ ...agent, circuitOpenUntil: new Date(0) }).length, 1);
    assert.equal(checkAgent({ ...agent, running: 2 }).length, 1);
  });

  it('hold a report only when every configured fault kind was injected', () => {
    assert.equal(describeReport(report()).ok, true);
    const missed = describeReport(report({ faultsByKind: { worker: 3, temporal: 0, postgres: 1 } }));
    assert.equal(missed.ok, false);
    assert.ok(missed.lines.includes('faults: worker 3, temporal 0, postgres 1 (never injected: temporal)'));
  });
});
