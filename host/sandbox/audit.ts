/** Writes the sandbox audit trail: one row per file-tool operation or command, allowed or refused. */
import { and, eq, inArray, sql } from 'drizzle-orm';
import type { Db } from '../../db/client';
import { sandboxEvents } from '../../db/schema';
import { countSandboxRefusal } from '../metrics';

/** One audited operation. */
export interface SandboxEvent {
  tenantId: string;
  taskId: string;
  kind: 'file' | 'command' | 'gateway';
  op: string;
  path?: string;
  allowed: boolean;
  reason?: string;
  bytes?: number;
  digestBefore?: string;
  digestAfter?: string;
  detail?: Record<string, unknown>;
}

/**
 * Whether the event is a refusal of what the agent tried: a gateway answer of 429 (a spent
 * budget, which agents' SDKs retry) or 5xx (the upstream's failure) is not, and would make
 * the refusals alert read an exhausted budget as an agent probing its confinement.
 */
function refusedAttempt(event: SandboxEvent): boolean {
  const status = event.detail?.status;
  return !event.allowed && !(typeof status === 'number' && status >= 429);
}

/** Appends one event. */
export async function recordSandboxEvent(db: Db, event: SandboxEvent): Promise<void> {
  if (refusedAttempt(event)) countSandboxRefusal(event.kind);
  await db.insert(sandboxEvents).values({ ...event, detail: event.detail ?? {} });
}

/** File-tool operations whose bytes count against the per-task write limit. */
const WRITE_OPS = ['file_write', 'file_search_replace'];

/**
 * What each file or folder a write creates costs of the per-task write limit (a folder's first
 * block, besides its inode). Uncharged, empty writes 2,000 folders deep each filled a workspace's
 * entries at no cost (found in review).
 */
export const TOOL_ENTRY_CHARGE = 4096;

/** Bytes the file tools have written for a task so far, with the entries they created charged (for the per-task limit). */
export async function bytesWrittenByTask(db: Db, tenantId: string, taskId: string): Promise<number> {
  const [row] = await db
    .select({
      n: sql<number>`coalesce(sum(${sandboxEvents.bytes} + coalesce((${sandboxEvents.detail}->>'entries')::bigint, 0) * ${TOOL_ENTRY_CHARGE}), 0)::bigint`,
    })
    .from(sandboxEvents)
    .where(
      and(
        eq(sandboxEvents.tenantId, tenantId),
        eq(sandboxEvents.taskId, taskId),
        eq(sandboxEvents.allowed, true),
        inArray(sandboxEvents.op, WRITE_OPS),
      ),
    );
  return Number(row?.n ?? 0);
}
