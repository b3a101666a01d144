/**
 * The provenance log: append-only and hash-chained per tenant. Each row's hash covers its
 * content and the previous row's hash, so an edited, removed or reordered row breaks the chain
 * at a place `verifyProvenance` names.
 */
import { createHash } from 'node:crypto';
import { and, asc, eq, gte, sql, type Placeholder, type SQL } from 'drizzle-orm';
import { storableValue, storableJson } from '../domain/bounds';
import { canonicalJson } from '../domain/canonical';
import { namedStatement, value as v, type Db, type DbExecutor } from './client';
import { provenanceEvents } from './schema';

/** The hash the first row of every tenant's chain follows. */
const GENESIS_HASH = `sha256:${'0'.repeat(64)}`;

/** An event to record. */
export interface ProvenanceEvent {
  tenantId: string;
  /** Identifies the event once (e.g. `task/T-1/run/<runId>/verdict`): appending it again adds nothing. */
  eventKey: string;
  kind: string;
  subject: string;
  payload: Record<string, unknown>;
}

/**
 * The event key of something that happened in one run of a task. A run's events never share a
 * key with another run's, so a second run's verdict or delivery is recorded, never swallowed as
 * a duplicate of the first.
 */
export function runEventKey(taskId: string, runId: string, what: string): string {
  return `task/${taskId}/run/${runId}/${what}`;
}

/** One run of one task, as its provenance events name it. */
export interface RunRef {
  tenantId: string;
  taskId: string;
  runId: string;
}

/**
 * Appends what one run of a task did (`what`: `routed`, `verdict`, …), keyed by the run so a
 * retried activity adds nothing and a second run's event is never swallowed by the first's.
 */
export function recordRunEvent(
  db: Db,
  run: RunRef,
  what: string,
  kind: string,
  payload: Record<string, unknown>,
): Promise<void> {
  return appendProvenance(db, runEvent(run, what, kind, payload));
}

/** The event {@link recordRunEvent} records. */
export function runEvent(run: RunRef, what: string, kind: string, payload: Record<string, unknown>): ProvenanceEvent {
  return {
    tenantId: run.tenantId,
    eventKey: runEventKey(run.taskId, run.runId, what),
    kind,
    subject: `${run.tenantId}/${run.taskId}`,
    payload,
  };
}

/** The hash of one row: its content and where it sits in the chain. */
export function provenanceHash(row: ProvenanceEvent & { seq: number; prevHash: string }): string {
  const content = canonicalJson({
    tenantId: row.tenantId,
    seq: row.seq,
    eventKey: row.eventKey,
    kind: row.kind,
    subject: row.subject,
    payload: row.payload,
    prevHash: row.prevHash,
  });
  return `sha256:${createHash('sha256').update(content).digest('hex')}`;
}

/**
 * The lock on `tenantId`'s chain, as an item of a select list. Every append holds it until its
 * transaction ends, and reads the chain's head only after it has it: a statement reads with the
 * snapshot it started with, so lock and read are separate statements.
 */
export function chainLock(tenantId: string | Placeholder): SQL {
  return sql`pg_advisory_xact_lock(hashtext('provenance/' || ${tenantId}))`;
}

/**
 * One row: `seen`, which of `keys` the chain of `tenantId` already has, and `seq` and `hash`, its
 * last row (null when empty). Read under {@link chainLock}; it may join a larger statement.
 */
export function chainHeadQuery(tenantId: string | Placeholder, keys: string[] | Placeholder): SQL {
  return sql`
    SELECT
      (SELECT array_agg(event_key) FROM ${provenanceEvents} WHERE tenant_id = ${tenantId} AND event_key = ANY(${sql.param(keys)}::text[])) AS seen,
      last.seq, last.hash
    FROM (SELECT 1) one
    LEFT JOIN LATERAL (
      SELECT seq, hash FROM ${provenanceEvents} WHERE tenant_id = ${tenantId} ORDER BY seq DESC LIMIT 1
    ) last ON true`;
}

/** A row of {@link chainHeadQuery}. */
export type ChainHeadRow = {
  seen: string[] | null;
  seq: number | null;
  hash: string | null;
};

/**
 * Appends `events` (in order, those `head` has not seen) after `head`, within `tx`, which has held
 * the tenant's {@link chainLock} since before `head` was read. Each is stored and hashed with its
 * NULs written `\0` (a failure's message may quote a NUL a submitter or a model sent).
 */
export async function appendAfterHead(tx: DbExecutor, head: ChainHeadRow, events: ProvenanceEvent[]): Promise<void> {
  const seen = new Set(head.seen ?? []);
  const empty = head.seq === null || head.hash === null;
  let seq = empty ? 0 : (head.seq as number) + 1;
  let prevHash = empty ? GENESIS_HASH : (head.hash as string);
  const rows = [];
  for (const event of events.map((e) => storableValue(e))) {
    if (seen.has(event.eventKey)) continue;
    seen.add(event.eventKey);
    const hash = provenanceHash({ ...event, seq, prevHash });
    rows.push({ ...event, seq, prevHash, hash });
    [seq, prevHash] = [seq + 1, hash];
  }
  if (rows.length === 1) await insertOne(tx, rows[0]);
  else if (rows.length) await tx.insert(provenanceEvents).values(rows);
}

/** One row, the common case (routing's claim appends one, and most batches hold one), compiled once. */
const insertOneStatement = namedStatement(
  'provenance-insert-one',
  sql`INSERT INTO ${provenanceEvents} (tenant_id, seq, event_key, kind, subject, payload, prev_hash, hash)
    VALUES (${v('tenantId')}, ${v('seq')}, ${v('eventKey')}, ${v('kind')}, ${v('subject')}, ${v('payload')}::jsonb,
      ${v('prevHash')}, ${v('hash')})`,
);

function insertOne(tx: DbExecutor, row: ProvenanceEvent & { seq: number; prevHash: string; hash: string }) {
  return insertOneStatement(tx, { ...row, payload: storableJson(row.payload) });
}

/** Appends `events` of one tenant in order at the end of its chain, in a transaction of its own. */
function appendBatch(db: Db, tenantId: string, events: ProvenanceEvent[]): Promise<void> {
  return db.transaction(async (tx) => {
    await tx.execute(sql`SELECT ${chainLock(tenantId)}`);
    const keys = events.map((e) => e.eventKey);
    const { rows } = await tx.execute<ChainHeadRow>(chainHeadQuery(tenantId, keys));
    await appendAfterHead(tx, rows[0], events);
  });
}

interface Pending {
  event: ProvenanceEvent;
  done: (err?: unknown) => void;
}

/** Per database and tenant, the events waiting for the append in progress to finish. */
const queues = new WeakMap<Db, Map<string, Pending[]>>();
/** Events appended in one transaction at most. */
const MAX_BATCH = 200;

/** Appends what is queued for `tenantId`, a batch at a time; a failed batch is retried event by event. */
async function drain(db: Db, tenantId: string, queue: Pending[], byTenant: Map<string, Pending[]>): Promise<void> {
  while (queue.length) {
    const batch = queue.slice(0, MAX_BATCH);
    try {
      await appendBatch(
        db,
        tenantId,
        batch.map((p) => p.event),
      );
      batch.forEach((p) => p.done());
    } catch (err) {
      if (batch.length === 1) batch[0].done(err);
      else
        for (const p of batch)
          await appendBatch(db, tenantId, [p.event]).then(
            () => p.done(),
            (e: unknown) => p.done(e),
          );
    }
    queue.splice(0, batch.length);
  }
  byTenant.delete(tenantId);
}

/**
 * Appends the event at the end of its tenant's chain (serialised per tenant); idempotent on
 * `eventKey`. Events appended while another append of the same tenant is in progress wait in
 * this process, not on a database connection, and go in together: one lock, one read of the
 * chain's head and one insert for the lot.
 */
export function appendProvenance(db: Db, event: ProvenanceEvent): Promise<void> {
  const byTenant = queues.get(db) ?? new Map<string, Pending[]>();
  queues.set(db, byTenant);
  return new Promise((resolve, reject) => {
    const done = (err?: unknown) => (err === undefined ? resolve() : reject(err as Error));
    const queue = byTenant.get(event.tenantId);
    if (queue) return void queue.push({ event, done });
    const fresh = [{ event, done }];
    byTenant.set(event.tenantId, fresh);
    void drain(db, event.tenantId, fresh, byTenant);
  });
}

/** A stored row of a chain. */
export type ProvenanceRow = typeof provenanceEvents.$inferSelect;

/** Where a walk of the chain starts: before the first row, or after a row it already trusts (a checkpoint's). */
export interface ChainStart {
  seq: number;
  hash: string;
}

/**
 * A tenant's chain in order, from `fromSeq` on; without it, every row the tenant has, so a row
 * stored below seq 0 (before the constraint of migration 0030) is reported, not skipped.
 */
export function provenanceRows(db: Db, tenantId: string, fromSeq?: number): Promise<ProvenanceRow[]> {
  const tenant = eq(provenanceEvents.tenantId, tenantId);
  return db
    .select()
    .from(provenanceEvents)
    .where(fromSeq === undefined ? tenant : and(tenant, gte(provenanceEvents.seq, fromSeq)))
    .orderBy(asc(provenanceEvents.seq));
}

/** What is wrong with `rows` (consecutive rows of one chain, following `start`), row by row; empty when intact. */
export function chainProblems(rows: ProvenanceRow[], start: ChainStart = { seq: -1, hash: GENESIS_HASH }): string[] {
  const problems: string[] = [];
  let prevHash = start.hash;
  rows.forEach((row, i) => {
    const where = `row seq ${row.seq} (id ${row.id}, ${row.kind} ${row.subject})`;
    const seq = start.seq + 1 + i;
    if (row.seq !== seq)
      problems.push(`${where}: expected seq ${seq}; a row before it was removed or the rows were renumbered`);
    if (row.prevHash !== prevHash)
      problems.push(`${where}: does not follow the row before it (removed, inserted or reordered)`);
    if (row.hash !== provenanceHash(row)) problems.push(`${where}: content does not match its hash (altered)`);
    prevHash = row.hash;
  });
  return problems;
}

/** What is wrong with a tenant's chain, row by row; empty when intact. */
export async function verifyProvenance(db: Db, tenantId: string): Promise<{ rows: number; problems: string[] }> {
  const rows = await provenanceRows(db, tenantId);
  return { rows: rows.length, problems: chainProblems(rows) };
}

/** Tenants that have a provenance chain. */
export async function provenanceTenants(db: Db): Promise<string[]> {
  const rows = await db
    .selectDistinct({ tenantId: provenanceEvents.tenantId })
    .from(provenanceEvents)
    .orderBy(asc(provenanceEvents.tenantId));
  return rows.map((r) => r.tenantId);
}
