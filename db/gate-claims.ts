/**
 * Claims on a check's run: while one activity runs a check on a change, no other may. A failure
 * stands once it is stored (db/gate-results.ts); without a claim, workflow code of one's own could
 * run one check on a tree many times at once and have a verdict signed on the first pass.
 */
import { and, eq, lt, or, sql } from 'drizzle-orm';
import type { Db } from './client';
import { gateClaims } from './schema';

/** One check on one change of a task. */
export interface GateClaimKey {
  tenantId: string;
  taskId: string;
  treeId: string;
  name: string;
}

/**
 * Takes the claim for `holder` for `seconds`; false when another holder's claim has not lapsed.
 * The holder's own claim (a retry of the activity that left it) is taken over.
 */
export async function claimGateRun(db: Db, key: GateClaimKey, holder: string, seconds: number): Promise<boolean> {
  const expiresAt = sql`now() + make_interval(secs => ${seconds})`;
  const taken = await db
    .insert(gateClaims)
    .values({ ...key, holder, expiresAt })
    .onConflictDoUpdate({
      target: [gateClaims.tenantId, gateClaims.taskId, gateClaims.treeId, gateClaims.name],
      set: { holder, expiresAt },
      setWhere: or(eq(gateClaims.holder, holder), lt(gateClaims.expiresAt, sql`now()`)),
    })
    .returning({ holder: gateClaims.holder });
  return taken.length > 0;
}

/** Gives the claim up, if `holder` still holds it. */
export async function releaseGateRun(db: Db, key: GateClaimKey, holder: string): Promise<void> {
  await db
    .delete(gateClaims)
    .where(
      and(
        eq(gateClaims.tenantId, key.tenantId),
        eq(gateClaims.taskId, key.taskId),
        eq(gateClaims.treeId, key.treeId),
        eq(gateClaims.name, key.name),
        eq(gateClaims.holder, holder),
      ),
    );
}
