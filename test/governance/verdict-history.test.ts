/**
 * Attack: an insider's workflow of its own having the worker sign what no record shows. Before,
 * `issueVerdict` signed each gate's origin, command, timing and output digest, any extra field,
 * the attempts before the judged one, a best-of-N task's candidates with the reason one won, and
 * the time of verification, all as handed over: a gate that ran `true` stated as `npm test`,
 * Arbiter's budget gate as the policy's, a failed attempt that never ran, a verdict dated 2099.
 */
import assert from 'node:assert/strict';
import { MockActivityEnvironment } from '@temporalio/testing';
import type { IssuedVerdict } from '../../domain/activity-io';
import type { VerdictStatement } from '../../domain/dsse';
import { ARBITER_EVIDENCE_FIELD } from '../../domain/vsa';
import type { AttemptRecord, GateResult } from '../../domain/task';
import { storedVerdict } from '../../db/verdicts';
import { taskWorkflowId } from '../../temporal-config';
import { SILENT_LOGGER } from '../../workers/logger';
import { testStack } from '../helpers/stack';
import {
  failedFirstAttempt,
  insiderRun,
  passingLaxGates,
  refusedAs,
  runOf,
  secondAttempt,
  SPEC,
  verdictOf,
  type Run,
} from './insider-run';
import { recordRouted } from '../helpers/tasks';

const relabel = (gates: GateResult[], name: string, as: Partial<GateResult> & Record<string, unknown>) =>
  gates.map((g) => (g.name === name ? { ...g, ...as } : g));

/** The statement `r`'s run signed. */
async function signedStatement(r: Run): Promise<VerdictStatement> {
  const row = await storedVerdict(testStack().database.db, r.ref.tenantId, r.ref.taskId, r.runId);
  const envelope = JSON.parse(row!.envelope!) as { payload: string };
  return JSON.parse(Buffer.from(envelope.payload, 'base64').toString('utf8')) as VerdictStatement;
}

describe('governance: what a verdict states besides its change is the record', function () {
  this.timeout(120_000);

  it("refuses a gate's command or origin other than the stored ones", async () => {
    const r = await insiderRun({});
    const gates = await passingLaxGates(r);
    await assert.rejects(
      r.env.run(r.a.issueVerdict, verdictOf(r, relabel(gates, 'tests', { argv: ['npm', 'test'] }))),
      refusedAs(
        'RecordMismatchError',
        /gate tests: stored as run by submitter \["true"\], handed over as run by submitter \["npm","test"\]/,
      ),
    );
    const budgetAsPolicy = relabel(gates, 'budget', { source: 'policy', argv: ['npm', 'test'] });
    await assert.rejects(
      r.env.run(r.a.issueVerdict, verdictOf(r, budgetAsPolicy)),
      refusedAs(
        'RecordMismatchError',
        /gate budget: stored as run by arbiter, handed over as run by policy \["npm","test"\]/,
      ),
    );
  });

  it("signs each gate's stored timing and output digest, no field the record lacks, and the time the step was scheduled", async () => {
    const r = await insiderRun({});
    const gates = await passingLaxGates(r);
    const dressed = relabel(gates, 'tests', {
      outputDigest: `sha256:${'e'.repeat(64)}`,
      durationMs: 123_456,
      reviewedBy: 'security-team',
    });
    const scheduledTimestampMs = Date.now() - 60_000;
    const env = new MockActivityEnvironment(
      { workflowExecution: { workflowId: taskWorkflowId(r.ref), runId: r.runId }, scheduledTimestampMs },
      { logger: SILENT_LOGGER },
    );
    const future = { ...verdictOf(r, dressed), verifiedAt: '2099-12-31T23:59:59.000Z' };
    const issued: IssuedVerdict = await env.run(r.a.issueVerdict, future);
    assert.equal(issued.outcome, 'PASS');
    const statement = await signedStatement(r);
    assert.equal(statement.predicate.timeVerified, new Date(scheduledTimestampMs).toISOString());
    const tests = statement.predicate[ARBITER_EVIDENCE_FIELD].gates.find((g) => g.name === 'tests')!;
    const ran = gates.find((g) => g.name === 'tests')!;
    assert.equal(tests.outputDigest, ran.outputDigest);
    assert.equal(tests.durationMs, ran.durationMs);
    assert.equal('reviewedBy' in tests, false, JSON.stringify(tests));
  });

  it('refuses an earlier attempt no record shows', async () => {
    const r = await insiderRun({});
    const gates = await passingLaxGates(r);
    const failed = gates.map((g) => (g.name === 'tests' ? { ...g, status: 'fail' as const } : g));
    const invented: AttemptRecord = {
      attempt: 1,
      summary: '',
      endedAt: new Date().toISOString(),
      diff: r.diff,
      gates: failed,
    };
    await assert.rejects(
      r.env.run(r.a.issueVerdict, { ...verdictOf(r, gates), attempts: [invented] }),
      refusedAs('RecordMismatchError', /attempt 1: gate tests: stored as command pass, handed over as command fail/),
    );
    await assert.rejects(
      r.env.run(r.a.issueVerdict, { ...verdictOf(r, gates), attempts: [{ ...invented, attempt: 2 }] }),
      refusedAs('RecordMismatchError', /attempts \[2\] are not numbered 1, 2, … in order/),
    );
    const elsewhere = { ...invented, diff: { ...r.diff, artifactId: 'no-such-patch' } };
    await assert.rejects(
      r.env.run(r.a.issueVerdict, { ...verdictOf(r, gates), attempts: [elsewhere] }),
      refusedAs('RecordMismatchError', /attempt 1: patch no-such-patch \(sha256:\w+\) is not one the task stored/),
    );
  });

  it("refuses, in a run judged by a predecessor's policy read, a commit no run read the policy at", async () => {
    const r = await insiderRun({});
    const gates = await passingLaxGates(r);
    // A run of the same task that read no policy of its own (a reset past the read) borrows r's.
    const next = runOf(r.ref);
    await recordRouted({ ...r.ref, runId: next.runId });
    await next.env.run(r.a.validateSpec, { ...r.ref, specYaml: SPEC });
    const elsewhere = { ...r.trusted!.provenance, commit: 'f'.repeat(40) };
    await assert.rejects(
      next.env.run(r.a.issueVerdict, verdictOf(r, gates, elsewhere)),
      refusedAs(
        'PolicyMismatchError',
        new RegExp(`the verdict names \\S+ at ${'f'.repeat(40)}, which no run read it as`),
      ),
    );
    const borrowed: IssuedVerdict = await next.env.run(r.a.issueVerdict, verdictOf(r, gates));
    assert.equal(borrowed.outcome, 'PASS');
  });

  it('refuses candidates without a judged one', async () => {
    const r = await insiderRun({});
    const gates = await passingLaxGates(r);
    const candidate = {
      index: 1,
      taskId: `${r.ref.taskId}.candidate-1`,
      runId: 'run-1',
      agentId: 'gpt-9',
      state: 'COMPLETED',
      tokens: 0,
      costUsd: 0,
      seconds: 0,
    };
    const candidates = { assessed: [candidate], reason: 'chosen by the security team after manual review' };
    await assert.rejects(
      r.env.run(r.a.issueVerdict, { ...verdictOf(r, gates), candidates }),
      refusedAs('RecordMismatchError', /a best-of-N verdict names both its candidates and the judged one/),
    );
  });

  it('refuses a verdict that leaves out an attempt made before the judged one', async () => {
    const r = await insiderRun({});
    const first = await failedFirstAttempt(r);
    const second = await secondAttempt(r);
    assert.match(second.diff.artifactId, /\/patch\/attempt-2$/);
    const verdict = verdictOf(second, await passingLaxGates(second));
    await assert.rejects(
      r.env.run(r.a.issueVerdict, verdict),
      refusedAs('RecordMismatchError', /the judged change is attempt 2's; the verdict lists 0 attempt\(s\) before it/),
    );
    const issued: IssuedVerdict = await r.env.run(r.a.issueVerdict, { ...verdict, attempts: [first] });
    assert.equal(issued.outcome, 'PASS');
    const signed = (await signedStatement(r)).predicate[ARBITER_EVIDENCE_FIELD];
    assert.deepEqual(
      signed.attempts?.map((a) => [a.attempt, a.diff.artifactId]),
      [[1, r.diff.artifactId]],
    );
  });
});
