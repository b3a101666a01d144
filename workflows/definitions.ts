/**
 * Signal and query definitions, shared by the workflow and its clients (the TypeScript client,
 * the CLI) so names and payload types are spelled once.
 */
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { SignedDecision } from '../domain/approval';
import type { WaiverDecisionResult } from '../domain/waiver';
import type { TaskSnapshot } from '../domain/task';
import type { AwaitTransitionInput } from '../domain/watch';

/** Payload of the cancel signal. */
export interface CancelTaskSignal {
  reason?: string;
  requestedBy?: string;
}

/** The whole task snapshot; what `arbiter status` and `temporal workflow query --name getState` show. */
export const getStateQuery = defineQuery<TaskSnapshot>('getState');

/**
 * Waits for the task's next transition after `afterSeq` and returns the snapshot; what
 * `arbiter watch` follows instead of polling `getState`. Refused unrecorded when it would return
 * at once (behind, or the task ended) or when every watcher slot is taken (domain/watch.ts).
 */
export const awaitTransitionUpdate = defineUpdate<TaskSnapshot, [AwaitTransitionInput]>('awaitTransition');

/** An approver's signed approval of the pending waiver; validated before anything reaches history. */
export const approveWaiverUpdate = defineUpdate<WaiverDecisionResult, [SignedDecision]>('approveWaiver');

/** An approver's signed rejection of the pending waiver: the task fails. */
export const rejectWaiverUpdate = defineUpdate<WaiverDecisionResult, [SignedDecision]>('rejectWaiver');

/**
 * The tenant's approvers or their keys changed: a waiting task re-reads them, so a key added
 * after the waiver opened can decide and a revoked one is refused by the validator. Carries
 * nothing; whoever sends it can only make the task read the registry again.
 */
export const approversChangedSignal = defineSignal('approversChanged');

/** Moves a non-terminal task to CANCELLED and stops whatever activity is running. */
export const cancelSignal = defineSignal<[CancelTaskSignal]>('cancel');
