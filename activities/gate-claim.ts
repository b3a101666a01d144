/**
 * One run of a check on a change at a time (db/gate-claims.ts): the claim is a lease the running
 * activity renews, so a worker lost mid-check holds it for half a minute at most. Each taking
 * has its own token: an attempt Temporal gave up on, still running, neither loses its claim to
 * the next attempt nor gives up that attempt's.
 */
import { Context, log } from '@temporalio/activity';
import { GateRunUnderWayError } from '../domain/errors';
import type { Db } from '../db/client';
import { claimGateRun, releaseGateRun, renewGateRun, type GateClaimKey } from '../db/gate-claims';
import { currentRun } from './run-identity';

const LEASE_SECONDS = 30;
const RENEW_EVERY_MS = 10_000;

/** The running activity, as a claim names it to whoever finds it held. */
function currentHolder(): string {
  const { workflowId, runId } = currentRun();
  const { activityId, attempt } = Context.current().info;
  return `${workflowId}/${runId}/${activityId}#${attempt}`;
}

/** Runs `work` holding the claim on `key`; throws GateRunUnderWayError while another holds it. */
export async function underGateClaim<T>(db: Db, key: GateClaimKey, work: () => Promise<T>): Promise<T> {
  const token = await claimGateRun(db, key, currentHolder(), LEASE_SECONDS);
  if (!token) throw new GateRunUnderWayError(key.name, key.treeId);
  const renew = setInterval(() => void renewGateRun(db, key, token, LEASE_SECONDS).catch(() => false), RENEW_EVERY_MS);
  try {
    return await work();
  } finally {
    clearInterval(renew);
    await releaseGateRun(db, key, token).catch((err: unknown) =>
      log.warn('gate claim not released; it lapses', { gate: key.name, error: String(err) }),
    );
  }
}
