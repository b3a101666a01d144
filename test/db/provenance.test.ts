/**
 * The provenance chain: a real task leaves its submission, routing, verdict, delivery and end
 * in the tenant's chain, and a signed checkpoint after its verdict; editing, removing or
 * reordering a row in the database is detected and named, by the library and by `arbiter
 * provenance verify`. The rows are append-only (a trigger), so each tampering test first
 * disables the trigger, as an attacker with the tables' owner's (DBA) rights would.
 */
import assert from 'node:assert/strict';
import { and, eq } from 'drizzle-orm';
import { appendProvenance, runEventKey, verifyProvenance } from '../../db/provenance';
import { provenanceCheckpoints, provenanceEvents } from '../../db/schema';
import { arbiter } from '../helpers/cli';
import { uniqueId, goodTaskInput } from '../helpers/fixtures';
import { appendEvents, stackKey, tamperAsDba } from '../helpers/provenance';
import { testStack } from '../helpers/stack';

const row = (tenantId: string, seq: number) =>
  and(eq(provenanceEvents.tenantId, tenantId), eq(provenanceEvents.seq, seq));

describe('provenance chain', function () {
  this.timeout(60_000);

  it('records a task end to end, once per event, and verifies', async () => {
    const stack = testStack();
    const input = await goodTaskInput();
    const tenant = input.tenantId;
    const { runId } = await stack.client.submit(input);
    assert.equal((await stack.client.watch(input, undefined, 200)).state, 'COMPLETED');
    await appendProvenance(stack.database.db, {
      tenantId: tenant,
      eventKey: runEventKey(input.taskId, runId, 'verdict'),
      kind: 'verdict.issued',
      subject: 'again',
      payload: {},
    });
    const rows = await stack.database.db
      .select()
      .from(provenanceEvents)
      .where(eq(provenanceEvents.tenantId, tenant))
      .orderBy(provenanceEvents.seq);
    assert.deepEqual(
      rows.map((r) => r.kind),
      ['task.submitted', 'task.routed', 'verdict.issued', 'change.delivered', 'task.completed'],
    );
    assert.deepEqual(await verifyProvenance(stack.database.db, tenant), { rows: 5, problems: [] });
    const checkpoints = await stack.database.db
      .select()
      .from(provenanceCheckpoints)
      .where(eq(provenanceCheckpoints.tenantId, tenant));
    assert.deepEqual(
      checkpoints.map((c) => [c.seq, c.keyId]),
      [[2, stackKey().signer.keyId]],
      "the worker signed the chain's head after the verdict",
    );
    const cli = await arbiter(['provenance', 'verify', '--tenant', tenant, '--key', stackKey().pub], {
      DATABASE_URL: stack.databaseUrl,
    });
    assert.equal(cli.code, 0, cli.stderr);
    assert.match(
      cli.stdout,
      new RegExp(`ok\\s+${tenant}: 5 event\\(s\\), checkpoint at seq 2, 2 event\\(s\\) after it`),
    );
  });

  it('appends events sent at once in one intact chain, each once, duplicates included', async () => {
    const { db } = testStack().database;
    const tenantId = uniqueId('tenant');
    const event = (i: number) => ({
      tenantId,
      eventKey: `burst/${i % 40}`,
      kind: 'burst',
      subject: `s${i}`,
      payload: {},
    });
    await Promise.all(Array.from({ length: 60 }, (_, i) => appendProvenance(db, event(i))));
    const rows = await db.select().from(provenanceEvents).where(eq(provenanceEvents.tenantId, tenantId));
    assert.equal(new Set(rows.map((r) => r.eventKey)).size, 40);
    assert.deepEqual(await verifyProvenance(db, tenantId), { rows: 40, problems: [] });
  });

  it('names an edited row', async () => {
    const tenant = uniqueId('tenant');
    await appendEvents(tenant, 4);
    await tamperAsDba((tx) =>
      tx
        .update(provenanceEvents)
        .set({ payload: { i: 99 } })
        .where(row(tenant, 2)),
    );
    const { problems } = await verifyProvenance(testStack().database.db, tenant);
    assert.equal(problems.length, 1);
    assert.match(problems[0], /^row seq 2 .*content does not match its hash \(altered\)/);
    const cli = await arbiter(['provenance', 'verify', '--tenant', tenant], { DATABASE_URL: testStack().databaseUrl });
    assert.equal(cli.code, 1);
    assert.match(cli.stderr, /row seq 2 .*altered/);
  });

  it('names a removed row', async () => {
    const tenant = uniqueId('tenant');
    await appendEvents(tenant, 4);
    await tamperAsDba((tx) => tx.delete(provenanceEvents).where(row(tenant, 1)));
    const { problems } = await verifyProvenance(testStack().database.db, tenant);
    assert.ok(
      problems.some((p) => /^row seq 2 .*expected seq 1; a row before it was removed/.test(p)),
      problems.join('\n'),
    );
    assert.ok(
      problems.some((p) => /^row seq 2 .*does not follow the row before it/.test(p)),
      problems.join('\n'),
    );
  });

  it('names reordered rows, even when the seq numbers are swapped back into order', async () => {
    const tenant = uniqueId('tenant');
    await appendEvents(tenant, 4);
    const db = testStack().database.db;
    await tamperAsDba(async (tx) => {
      await tx.update(provenanceEvents).set({ seq: 1_000_000 }).where(row(tenant, 1));
      await tx.update(provenanceEvents).set({ seq: 1 }).where(row(tenant, 2));
      await tx.update(provenanceEvents).set({ seq: 2 }).where(row(tenant, 1_000_000));
    });
    const { problems } = await verifyProvenance(db, tenant);
    assert.ok(
      problems.some((p) => /^row seq 1 .*does not follow/.test(p)),
      problems.join('\n'),
    );
  });
});
