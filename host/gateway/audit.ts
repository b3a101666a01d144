/** Gateway refusals and proxied connections, written to the sandbox audit trail with the run they belong to. */
import type { Db } from '../../db/client';
import { countSandboxRefusal } from '../metrics';
import { recordSandboxEvent } from '../sandbox/audit';
import { MAX_RECORDED_REFUSALS, type GatewaySession } from './session';

/** One gateway decision; `always` records a refusal the session's cap does not apply to (its stop, its count). */
interface GatewayEvent {
  op: string;
  target: string;
  allowed: boolean;
  reason?: string;
  detail?: Record<string, unknown>;
  always?: boolean;
}

/**
 * Records one gateway decision for `session`'s task. Targets and reasons quote what the agent
 * named, and the verdict quotes reasons: both are cut short. A refusal past the session's
 * {@link MAX_RECORDED_REFUSALS} is only counted ({@link recordUnrecordedRefusals}).
 */
export async function auditGateway(db: Db, session: GatewaySession, event: GatewayEvent): Promise<void> {
  if (!event.allowed && !event.always && !session.countRefusal()) return countSandboxRefusal('gateway');
  const { tenantId, taskId, runId, agentId, purpose } = session.identity;
  await recordSandboxEvent(db, {
    tenantId,
    taskId,
    kind: 'gateway',
    op: event.op,
    path: event.target.slice(0, 500),
    allowed: event.allowed,
    reason: event.reason?.slice(0, 500),
    detail: { runId, agentId, purpose, sessionId: session.id, ...event.detail },
  });
}

/** Records the refusals `session` counted past those recorded one by one, as one row standing for them all. */
export async function recordUnrecordedRefusals(db: Db, session: GatewaySession): Promise<void> {
  const unrecorded = session.takeUnrecordedRefusals();
  if (!unrecorded) return;
  await auditGateway(db, session, {
    op: 'refusals',
    target: session.identity.agentId,
    allowed: false,
    reason: `${unrecorded} more requests refused, past the ${MAX_RECORDED_REFUSALS} recorded one by one`,
    detail: { unrecorded },
    always: true,
  });
}
