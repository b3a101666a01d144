/**
 * One run of a check on a change at a time (db/gate-claims.ts): the claim is a lease the running
 * activity renews, so a worker lost mid-check holds it for a minute at most, and its own retry
 * takes it over at once.
 */
import { Context, log } from '@temporalio/activity';
import { GateRunUnderWayError } from '../domain/errors';
import type { Db } from '../db/client';
import { claimGateRun, releaseGateRun, type GateClaimKey } from '../db/gate-claims';
import { currentRun } from './run-identity';

const LEASE_SECONDS = 60;
const RENEW_EVERY_MS = 15_000;

/** The running activity, as a claim names it: its retries share it, no other activity does. */
function currentHolder(): string {
  const { workflowId, runId } = currentRun();
  return `${workflowId}/${runId}/${Context.current().info.activityId}`;
}

/** Runs `work` holding the claim on `key`; throws GateRunUnderWayError while another activity holds it. */
export async function underGateClaim<T>(db: Db, key: GateClaimKey, work: () => Promise<T>): Promise<T> {
  const holder = currentHolder();
  if (!(await claimGateRun(db, key, holder, LEASE_SECONDS))) throw new GateRunUnderWayError(key.name, key.treeId);
  const renew = setInterval(() => void claimGateRun(db, key, holder, LEASE_SECONDS).catch(() => false), RENEW_EVERY_MS);
  try {
    return await work();
  } finally {
    clearInterval(renew);
    await releaseGateRun(db, key, holder).catch((err: unknown) =>
      log.warn('gate claim not released; it lapses', { gate: key.name, error: String(err) }),
    );
  }
}
