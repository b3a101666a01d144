/**
 * An `openai` conversation's transcript in PostgreSQL: every write takes the conversation's turn
 * or is a no-op when what it writes is there, so a retried or overlapping step never drops a
 * message or adds one twice.
 */
import { desc, eq, sql } from 'drizzle-orm';
import type { Db } from './client';
import { conversationMessages, conversations } from './schema';

/**
 * Appends a message at the end of the transcript. Serialised per conversation, so two
 * overlapping attempts of a step can never take the same seq and silently drop a message; a
 * message already stored for the same turn or tool call is not added again.
 */
export async function appendMessage(
  db: Db,
  tenantId: string,
  conversationId: string,
  m: Omit<typeof conversationMessages.$inferInsert, 'tenantId' | 'conversationId' | 'seq'>,
): Promise<void> {
  await db.transaction(async (tx) => {
    await tx.execute(sql`SELECT pg_advisory_xact_lock(hashtext(${`conversation/${conversationId}`}))`);
    const [{ next }] = await tx
      .select({ next: sql<number>`coalesce(max(${conversationMessages.seq}), -1) + 1` })
      .from(conversationMessages)
      .where(eq(conversationMessages.conversationId, conversationId));
    await tx
      .insert(conversationMessages)
      .values({ tenantId, conversationId, seq: next, ...m })
      .onConflictDoNothing();
  });
}

/**
 * Writes the conversation's row and its opening messages, each unless it is there. One
 * transaction: a first attempt that stopped between the row and its messages left a retry that
 * found the row and wrote no messages, so the model was never given the task (a row left so by an
 * older release gets them now). Another run's row is left alone; the ownership check names why.
 */
export async function openTranscript(
  db: Db,
  row: typeof conversations.$inferInsert,
  opening: Array<{ role: 'system' | 'user'; content: string }>,
): Promise<void> {
  await db.transaction(async (tx) => {
    await tx.insert(conversations).values(row).onConflictDoNothing();
    const [stored] = await tx.select().from(conversations).where(eq(conversations.id, row.id));
    if (stored?.tenantId !== row.tenantId || stored.taskId !== row.taskId || stored.runId !== row.runId) return;
    await tx
      .insert(conversationMessages)
      .values(opening.map((m, seq) => ({ tenantId: row.tenantId, conversationId: row.id, seq, ...m })))
      .onConflictDoNothing();
  });
}

/**
 * Adds a retry's feedback as a user turn at the end of the transcript, unless it is already the
 * last message there (a retried activity, or the same retry resumed).
 */
export async function appendFeedback(db: Db, tenantId: string, conversationId: string, content: string): Promise<void> {
  await db.transaction(async (tx) => {
    await tx.execute(sql`SELECT pg_advisory_xact_lock(hashtext(${`conversation/${conversationId}`}))`);
    const [last] = await tx
      .select()
      .from(conversationMessages)
      .where(eq(conversationMessages.conversationId, conversationId))
      .orderBy(desc(conversationMessages.seq))
      .limit(1);
    if (last?.role === 'user' && last.content === content) return;
    await tx
      .insert(conversationMessages)
      .values({ tenantId, conversationId, seq: (last?.seq ?? -1) + 1, role: 'user', content });
  });
}
