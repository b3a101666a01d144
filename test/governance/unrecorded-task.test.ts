/**
 * Attack (found in review): a run of an insider's own workflow code that never recorded its task
 * (no row, no `task.submitted`) had a PASS signed for it, entered in the tenant's provenance chain,
 * by adopting a candidate it ran itself; `issueVerdict` asked only whether another run had ended
 * the task. The steps that sign or grant something for a task now act only for the run that owns
 * its row (or takes it over next): issuing a verdict, adopting a candidate, authorising and storing
 * a waiver.
 */
import assert from 'node:assert/strict';
import { and, eq } from 'drizzle-orm';
import { provenanceEvents, tasks, verdicts } from '../../db/schema';
import type { IssuedVerdict } from '../../domain/activity-io';
import { testStack } from '../helpers/stack';
import { PENDING_WAIVER, registeredApprover, signedApproval } from '../helpers/approvers';
import { insiderRun, passingLaxGates, refusedAs, verdictOf } from './insider-run';

const notRecorded = refusedAs('RecordMismatchError', /is not recorded, not run/);

describe('governance: nothing is signed or granted for a task no run recorded', function () {
  this.timeout(120_000);

  it('issueVerdict, adoptCandidate, authorizeWaiverDecision and storeWaiver refuse it; the recorded run is signed', async () => {
    const r = await insiderRun({});
    const gates = await passingLaxGates(r);
    const { db } = testStack().database;
    const row = and(eq(tasks.tenantId, r.ref.tenantId), eq(tasks.id, r.ref.taskId));
    const [recorded] = await db.select().from(tasks).where(row);
    await db.delete(tasks).where(row);

    await assert.rejects(r.env.run(r.a.issueVerdict, verdictOf(r, gates)), notRecorded);
    const adopt = { ...r.ref, index: 1, runId: r.runId, policyDigest: r.trusted!.provenance.digest };
    await assert.rejects(r.env.run(r.a.adoptCandidate, adopt), notRecorded);
    const key = await registeredApprover(r.ref.tenantId, 'alice');
    const signed = await signedApproval(r.ref, { ...PENDING_WAIVER, runId: r.runId }, key);
    await assert.rejects(r.env.run(r.a.authorizeWaiverDecision, { ...r.ref, riskTier: 3, signed }), notRecorded);
    await assert.rejects(
      r.env.run(r.a.storeWaiver, {
        ...{ ...r.ref, waiverId: 'WV-1234', specId: 'TEST-001', gates: ['budget'] },
        ...{ delta: PENDING_WAIVER.delta, reasonCode: 'architectural_refactor', approvals: [signed] },
        approvers: [{ approver: key.name, keyId: key.keyId, at: new Date().toISOString() }],
        ...{ expiresAt: signed.claim.expiresAt, budgetDetail: 'waived' },
      }),
      notRecorded,
    );
    const subject = and(eq(verdicts.tenantId, r.ref.tenantId), eq(verdicts.taskId, r.ref.taskId));
    assert.deepEqual(await db.select().from(verdicts).where(subject), [], 'no verdict stored');
    const events = await db
      .select({ kind: provenanceEvents.kind })
      .from(provenanceEvents)
      .where(eq(provenanceEvents.subject, `${r.ref.tenantId}/${r.ref.taskId}`));
    assert.deepEqual(events, [], 'nothing entered in the chain');

    // The control: the same run, once its task is recorded as its own, is signed the same verdict.
    await db.insert(tasks).values(recorded);
    const issued: IssuedVerdict = await r.env.run(r.a.issueVerdict, verdictOf(r, gates));
    assert.equal(issued.outcome, 'PASS');
  });
});
