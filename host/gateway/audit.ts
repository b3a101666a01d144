/** Gateway refusals and proxied connections, written to the sandbox audit trail with the run they belong to. */
import type { Db } from '../../db/client';
import { recordSandboxEvent } from '../sandbox/audit';
import type { GatewaySession } from './session';

/** Records one gateway decision for `session`'s task. */
export async function auditGateway(
  db: Db,
  session: GatewaySession,
  event: { op: string; target: string; allowed: boolean; reason?: string; detail?: Record<string, unknown> },
): Promise<void> {
  const { tenantId, taskId, runId, agentId, purpose } = session.identity;
  await recordSandboxEvent(db, {
    tenantId,
    taskId,
    kind: 'gateway',
    op: event.op,
    path: event.target.slice(0, 500),
    allowed: event.allowed,
    reason: event.reason,
    detail: { runId, agentId, purpose, sessionId: session.id, ...event.detail },
  });
}
