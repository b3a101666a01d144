/**
 * One run of a check on a change at a time (db/gate-claims.ts): the claim is a lease the running
 * activity renews, so a worker lost mid-check holds it for 15 seconds at most. Each taking
 * has its own token: an attempt Temporal gave up on, still running, neither loses its claim to
 * the next attempt nor gives up that attempt's.
 */
import { Context, log } from '@temporalio/activity';
import { GateRunUnderWayError } from '../domain/errors';
import type { Db } from '../db/client';
import { claimGateRun, gateClaimHolder, releaseGateRun, renewGateRun, type GateClaimKey } from '../db/gate-claims';
import { currentRun } from './run-identity';

/**
 * A lost worker's check holds up its activity's next attempt until the lease lapses. Renewed
 * every 5 s, a 15 s lease survives 10 s of a stalled event loop, as the activity's 10 s heartbeat
 * timeout does; a longer one would only lengthen that wait.
 */
const LEASE_SECONDS = 15;
const RENEW_EVERY_MS = 5_000;
const EARLIER_ATTEMPT_POLL_MS = 2_000;

/**
 * Takes the claim on `key`. Held by an earlier attempt of this same activity (one Temporal gave up
 * on, still running its check to the end), it waits for that attempt's result rather than spending
 * its retries; held by any other activity, it throws GateRunUnderWayError.
 */
async function takeClaim(db: Db, key: GateClaimKey): Promise<string> {
  const activity = Context.current();
  const { workflowId, runId } = currentRun();
  const self = `${workflowId}/${runId}/${activity.info.activityId}#`;
  for (;;) {
    const token = await claimGateRun(db, key, `${self}${activity.info.attempt}`, LEASE_SECONDS);
    if (token) return token;
    const holder = await gateClaimHolder(db, key);
    if (holder === undefined) continue;
    if (!holder.startsWith(self)) throw new GateRunUnderWayError(key.name, key.treeId);
    await activity.sleep(EARLIER_ATTEMPT_POLL_MS);
  }
}

/** Runs `work` holding the claim on `key`. */
export async function underGateClaim<T>(db: Db, key: GateClaimKey, work: () => Promise<T>): Promise<T> {
  const token = await takeClaim(db, key);
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
