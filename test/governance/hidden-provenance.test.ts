/**
 * A provenance row below seq 0. Found in review: the chain's walk read from seq 0, nothing refused
 * a negative seq, and the worker's role (which may insert provenance) forged a `change.delivered`
 * at seq -1 that `verdict verify --require-pass` took for a delivery while `provenance verify`
 * and the next checkpoint called the chain intact.
 */
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { sql } from 'drizzle-orm';
import { openDatabase, type Database } from '../../db/client';
import { takeCheckpoint } from '../../db/provenance-checkpoints';
import { tasks, verdicts } from '../../db/schema';
import { arbiter } from '../helpers/cli';
import { uniqueId } from '../helpers/fixtures';
import { appendEvents, stackKey, tamperAsDba } from '../helpers/provenance';
import { testStack } from '../helpers/stack';
import { SAMPLE_VERDICT_PAYLOAD, sampleStatement } from '../helpers/verdicts';

const cli = (...args: string[]) =>
  arbiter(args, { DATABASE_URL: testStack().databaseUrl, ARBITER_HOME: testStack().home });

const FORGED = `INSERT INTO provenance_events (tenant_id, seq, event_key, kind, subject, payload, prev_hash, hash)
  VALUES ($1, -1, 'forged', 'change.delivered', $2, $3::jsonb, 'x', 'y')`;

/** A genuine PASS signed by the worker's key for `tenant`/T-1's current run, never delivered; its digest and run. */
async function undeliveredPass(tenant: string): Promise<{ digest: string; runId: string }> {
  const runId = randomUUID();
  const run = { workflowId: `task/${tenant}/T-1`, runId };
  const payload = { ...SAMPLE_VERDICT_PAYLOAD, tenantId: tenant, taskId: 'T-1', run };
  const { envelope, statementDigest } = stackKey().signer.signStatement(sampleStatement(payload));
  const db = testStack().database.db;
  await db.insert(tasks).values({ tenantId: tenant, id: 'T-1', ...run, state: 'FAILED' });
  await db.insert(verdicts).values({
    ...{ id: randomUUID(), tenantId: tenant, taskId: 'T-1', runId, outcome: 'PASS' },
    ...{ digest: statementDigest, payload, envelope },
  });
  return { digest: statementDigest, runId };
}

describe('a provenance row below seq 0', function () {
  this.timeout(90_000);
  let worker: { role: string; database: Database };
  before(async () => {
    const role = `test_w_${randomBytes(4).toString('hex')}`;
    const password = randomBytes(12).toString('hex');
    await testStack().database.pool.query(`CREATE ROLE ${role} LOGIN PASSWORD '${password}' IN ROLE arbiter_worker`);
    const url = new URL(testStack().databaseUrl);
    [url.username, url.password] = [role, password];
    worker = { role, database: openDatabase(url.toString(), { max: 1 }) };
  });
  after(async () => {
    await worker.database.close();
    await testStack().database.pool.query(`DROP ROLE IF EXISTS ${worker.role}`);
  });

  it("cannot be inserted by the worker's role", async () => {
    const tenant = uniqueId('hidden');
    const { digest, runId } = await undeliveredPass(tenant);
    const claim = JSON.stringify({ verdictDigest: digest, runId });
    await assert.rejects(
      worker.database.pool.query(FORGED, [tenant, `${tenant}/T-1`, claim]),
      /provenance_events_seq_from_zero/,
    );
  });

  it('stored before the constraint, is reported by provenance verify and counts as no delivery', async () => {
    const tenant = uniqueId('hidden');
    const { digest, runId } = await undeliveredPass(tenant);
    await appendEvents(tenant, 3);
    assert.ok((await takeCheckpoint(testStack().database.db, stackKey().signer, tenant)).ok);
    const claim = JSON.stringify({ verdictDigest: digest, runId });
    await tamperAsDba(async (tx) => {
      await tx.execute(sql`ALTER TABLE provenance_events DROP CONSTRAINT provenance_events_seq_from_zero`);
      await tx.execute(
        sql`INSERT INTO provenance_events (tenant_id, seq, event_key, kind, subject, payload, prev_hash, hash)
          VALUES (${tenant}, -1, 'forged', 'change.delivered', ${`${tenant}/T-1`}, ${claim}::jsonb, 'x', 'y')`,
      );
      await tx.execute(
        sql`ALTER TABLE provenance_events ADD CONSTRAINT provenance_events_seq_from_zero CHECK (seq >= 0) NOT VALID`,
      );
    });
    const verify = await cli('verdict', 'verify', `${tenant}/T-1`, '--key', stackKey().pub, '--require-pass');
    assert.equal(verify.code, 1, verify.stdout);
    assert.match(verify.stderr, /no delivery of this verdict is recorded/);
    const audit = await cli('provenance', 'verify', '--tenant', tenant, '--key', stackKey().pub);
    assert.equal(audit.code, 1, audit.stdout);
    assert.match(audit.stderr, /row seq -1 .*expected seq 0/);
  });
});
