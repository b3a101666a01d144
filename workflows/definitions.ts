/**
 * Signal and query definitions, shared by the workflow and its clients (the TypeScript client,
 * the CLI) so names and payload types are spelled once.
 */
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { ApproveWaiver, RejectWaiver, WaiverDecisionResult } from '../domain/waiver';
import type { TaskSnapshot } from '../domain/task';

/** Payload of the cancel signal. */
export interface CancelTaskSignal {
  reason?: string;
  requestedBy?: string;
}

/** The whole task snapshot; what `arbiter status` and `temporal workflow query --name getState` show. */
export const getStateQuery = defineQuery<TaskSnapshot>('getState');

/** A person approves the pending waiver; validated before anything reaches history. */
export const approveWaiverUpdate = defineUpdate<WaiverDecisionResult, [ApproveWaiver]>('approveWaiver');

/** A person rejects the pending waiver: the task fails. */
export const rejectWaiverUpdate = defineUpdate<WaiverDecisionResult, [RejectWaiver]>('rejectWaiver');

/** Moves a non-terminal task to CANCELLED and stops whatever activity is running. */
export const cancelSignal = defineSignal<[CancelTaskSignal]>('cancel');
