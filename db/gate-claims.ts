/**
 * Claims on a check's run: while one activity runs a check on a change, no other may. A failure
 * stands once it is stored (db/gate-results.ts); without a claim, workflow code of one's own could
 * run one check on a tree many times at once and have a verdict signed on the first pass.
 */
import { randomUUID } from 'node:crypto';
import { and, eq, lt, sql, type SQL } from 'drizzle-orm';
import type { Db } from './client';
import { gateClaims } from './schema';

/** One check on one change of a task. */
export interface GateClaimKey {
  tenantId: string;
  taskId: string;
  treeId: string;
  name: string;
}

const lease = (seconds: number) => sql`now() + make_interval(secs => ${seconds})`;

/** The claim on `key`; with `token`, only as that taking holds it. */
function claimed(key: GateClaimKey, token?: string): SQL | undefined {
  return and(
    eq(gateClaims.tenantId, key.tenantId),
    eq(gateClaims.taskId, key.taskId),
    eq(gateClaims.treeId, key.treeId),
    eq(gateClaims.name, key.name),
    token === undefined ? undefined : eq(gateClaims.token, token),
  );
}

/**
 * Takes the claim for `seconds` and returns its token; undefined while another taking of it has
 * not lapsed, even by another attempt of the same activity (which may still be running the check).
 */
export async function claimGateRun(
  db: Db,
  key: GateClaimKey,
  holder: string,
  seconds: number,
): Promise<string | undefined> {
  const token = randomUUID();
  const taken = await db
    .insert(gateClaims)
    .values({ ...key, holder, token, expiresAt: lease(seconds) })
    .onConflictDoUpdate({
      target: [gateClaims.tenantId, gateClaims.taskId, gateClaims.treeId, gateClaims.name],
      set: { holder, token, expiresAt: lease(seconds) },
      setWhere: lt(gateClaims.expiresAt, sql`now()`),
    })
    .returning({ token: gateClaims.token });
  return taken.length > 0 ? token : undefined;
}

/** Extends the claim taken as `token` by `seconds`; false when it lapsed and was taken since. */
export async function renewGateRun(db: Db, key: GateClaimKey, token: string, seconds: number): Promise<boolean> {
  const renewed = await db
    .update(gateClaims)
    .set({ expiresAt: lease(seconds) })
    .where(claimed(key, token))
    .returning({ token: gateClaims.token });
  return renewed.length > 0;
}

/** Gives up the claim taken as `token`, if it still holds. */
export async function releaseGateRun(db: Db, key: GateClaimKey, token: string): Promise<void> {
  await db.delete(gateClaims).where(claimed(key, token));
}

/** Who holds the claim now, if anyone (it may have lapsed). */
export async function gateClaimHolder(db: Db, key: GateClaimKey): Promise<string | undefined> {
  const [row] = await db.select({ holder: gateClaims.holder }).from(gateClaims).where(claimed(key));
  return row?.holder;
}
