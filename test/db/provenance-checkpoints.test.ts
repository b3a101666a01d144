/**
 * Signed checkpoints, tried as the attacker with the tables' owner's rights would (triggers
 * disabled first): a chain cut short, a chain rewritten with every hash recomputed, the
 * checkpoint rows deleted as well, and a checkpoint signed by a key nobody trusts. The hash
 * chain alone walks clean in each case; `arbiter provenance verify` does not.
 */
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { and, eq, gte } from 'drizzle-orm';
import { verifyProvenance } from '../../db/provenance';
import { takeCheckpoint } from '../../db/provenance-checkpoints';
import { provenanceCheckpoints, provenanceEvents } from '../../db/schema';
import { createVerdictSigner } from '../../host/signing';
import { arbiter } from '../helpers/cli';
import { uniqueId } from '../helpers/fixtures';
import { appendEvents, rewriteConsistently, stackKey, tamperAsDba } from '../helpers/provenance';
import { testStack } from '../helpers/stack';
import { tempDir } from '../helpers/temp';

/** `arbiter provenance …` against the test database, with the shared worker's home (and so its key). */
const provenance = (...args: string[]) =>
  arbiter(['provenance', ...args], { DATABASE_URL: testStack().databaseUrl, ARBITER_HOME: testStack().home });

/** A tenant with a 4-event chain whose head (seq 3) the worker's key signed. */
async function checkpointedChain(): Promise<string> {
  const tenant = uniqueId('ckpt');
  await appendEvents(tenant, 4);
  const outcome = await takeCheckpoint(testStack().database.db, stackKey().signer, tenant);
  assert.ok(outcome.ok && outcome.checkpoint.seq === 3, JSON.stringify(outcome));
  return tenant;
}

async function assertChainAloneWalksClean(tenant: string, rows: number) {
  assert.deepEqual(await verifyProvenance(testStack().database.db, tenant), { rows, problems: [] });
}

describe('provenance checkpoints', function () {
  this.timeout(60_000);

  it('verifies an intact chain against its checkpoint only with a trusted key: --key, or the worker key pinned loudly', async () => {
    const tenant = await checkpointedChain();
    const home = tempDir('arbiter-verify-home-');
    const env = {
      DATABASE_URL: testStack().databaseUrl,
      ARBITER_HOME: home,
      ARBITER_SIGNING_KEY_FILE: stackKey().file,
    };
    const untrusted = await arbiter(['provenance', 'verify', '--tenant', tenant], env);
    assert.equal(untrusted.code, 1, 'nothing is trusted by default, not even the local key');
    assert.match(untrusted.stderr, /checkpoint REFUSED: no trusted key/);
    assert.match(untrusted.stderr, /no trusted key: .*trusted-keys is missing or empty; pass --key FILE/);
    const pinned = await arbiter(['provenance', 'verify', '--tenant', tenant, '--trust-worker-key'], env);
    assert.equal(pinned.code, 0, pinned.stderr);
    assert.match(pinned.stderr, /TRUST ON FIRST USE/);
    assert.match(pinned.stdout, new RegExp(`ok\\s+${tenant}: 4 event\\(s\\), checkpoint at seq 3\\n`));
    const keyed = await provenance('verify', '--tenant', tenant, '--key', stackKey().pub);
    assert.equal(keyed.code, 0, keyed.stderr);
    assert.doesNotMatch(keyed.stderr, /TRUST ON FIRST USE|no trusted key/);
  });

  it('detects a truncated chain', async () => {
    const tenant = await checkpointedChain();
    await tamperAsDba((tx) =>
      tx.delete(provenanceEvents).where(and(eq(provenanceEvents.tenantId, tenant), gte(provenanceEvents.seq, 2))),
    );
    await assertChainAloneWalksClean(tenant, 2);
    const cli = await provenance('verify', '--tenant', tenant, '--key', stackKey().pub);
    assert.equal(cli.code, 1, cli.stdout);
    assert.match(cli.stdout, new RegExp(`BROKEN ${tenant}: 2 event\\(s\\)`));
    assert.match(cli.stderr, /checkpoint seq 3 .*TRUNCATED: the chain ends at seq 1, but it held seq 3 when signed/);
  });

  it('detects a chain cut short and refilled with new events', async () => {
    const tenant = await checkpointedChain();
    await tamperAsDba((tx) =>
      tx.delete(provenanceEvents).where(and(eq(provenanceEvents.tenantId, tenant), gte(provenanceEvents.seq, 2))),
    );
    await appendEvents(tenant, 3, 10);
    await assertChainAloneWalksClean(tenant, 5);
    const cli = await provenance('verify', '--tenant', tenant, '--key', stackKey().pub);
    assert.equal(cli.code, 1);
    assert.match(cli.stderr, /checkpoint seq 3 .*REWRITTEN: row seq 3 has hash sha256:\w+, but sha256:\w+ was signed/);
  });

  it('detects a consistently rewritten chain, and refuses to sign it', async () => {
    const tenant = await checkpointedChain();
    await rewriteConsistently(tenant, 1, { i: 'forged' });
    await assertChainAloneWalksClean(tenant, 4);
    const cli = await provenance('verify', '--tenant', tenant, '--key', stackKey().pub);
    assert.equal(cli.code, 1);
    assert.match(cli.stderr, /checkpoint seq 3 signed .* \(checkpoint table row id \d+\): REWRITTEN: row seq 3/);
    // The file a checkpoint was kept in holds the one that shows the rewrite: refusing keeps it.
    const out = path.join(tempDir('arbiter-ckpt-'), 'latest.json');
    writeFileSync(out, 'the checkpoints kept before\n');
    const sign = await provenance('checkpoint', '--tenant', tenant, '--out', out);
    assert.equal(sign.code, 1, sign.stdout);
    assert.match(sign.stderr, new RegExp(`REFUSED ${tenant}: .*REWRITTEN`));
    assert.match(sign.stderr, /latest\.json not written: it keeps the checkpoints it had/);
    assert.equal(readFileSync(out, 'utf8'), 'the checkpoints kept before\n');
  });

  it('still detects the rewrite with a checkpoint kept outside the database after the rows are deleted', async () => {
    const tenant = uniqueId('ckpt');
    await appendEvents(tenant, 4);
    const out = path.join(tempDir('arbiter-ckpt-'), 'kept.json');
    const sign = await provenance('checkpoint', '--tenant', tenant, '--out', out);
    assert.equal(sign.code, 0, sign.stderr);
    assert.match(sign.stdout, new RegExp(`signed ${tenant}: seq 3 head sha256:\\w+ by ed25519:`));
    await rewriteConsistently(tenant, 0, { i: 'forged' });
    await tamperAsDba((tx) => tx.delete(provenanceCheckpoints).where(eq(provenanceCheckpoints.tenantId, tenant)));

    const dbOnly = await provenance('verify', '--tenant', tenant, '--key', stackKey().pub);
    assert.equal(dbOnly.code, 0, 'the database alone no longer shows it: the reason to keep a checkpoint outside');
    assert.match(dbOnly.stdout, /no checkpoint \(truncation and consistent rewrites cannot be detected\)/);
    const kept = await provenance('verify', '--tenant', tenant, '--key', stackKey().pub, '--checkpoint', out);
    assert.equal(kept.code, 1, kept.stdout);
    assert.match(kept.stderr, new RegExp(`checkpoint seq 3 .*\\(file ${out}\\[0\\]\\): REWRITTEN`));
    const all = await provenance('verify', '--key', stackKey().pub, '--checkpoint', out);
    assert.equal(all.code, 1, 'verifying every tenant includes those named in the kept file');
    assert.match(all.stdout, new RegExp(`BROKEN ${tenant}`));
  });

  it('refuses a checkpoint signed by an untrusted key, stored or kept in a file', async () => {
    const tenant = uniqueId('ckpt');
    await appendEvents(tenant, 2);
    const stranger = createVerdictSigner(generateKeyPairSync('ed25519').privateKey);
    const forged = await takeCheckpoint(testStack().database.db, stranger, tenant);
    assert.ok(forged.ok);
    const stored = await provenance('verify', '--tenant', tenant, '--key', stackKey().pub);
    assert.equal(stored.code, 1);
    assert.ok(
      stored.stderr.includes(`checkpoint REFUSED: signed by ${stranger.keyId}, which is not a trusted key`),
      stored.stderr,
    );

    const other = uniqueId('ckpt');
    await appendEvents(other, 2);
    const file = path.join(tempDir('arbiter-ckpt-'), 'forged.json');
    const outcome = await takeCheckpoint(testStack().database.db, stranger, other);
    assert.ok(outcome.ok);
    writeFileSync(file, outcome.envelope);
    await tamperAsDba((tx) => tx.delete(provenanceCheckpoints).where(eq(provenanceCheckpoints.tenantId, other)));
    const kept = await provenance('verify', '--tenant', other, '--key', stackKey().pub, '--checkpoint', file);
    assert.equal(kept.code, 1);
    assert.ok(kept.stderr.includes(`file ${file}: checkpoint REFUSED: signed by ${stranger.keyId}`), kept.stderr);
  });

  it('refuses to check checkpoints when no key is trusted, and a verdict envelope passed off as a checkpoint', async () => {
    const tenant = await checkpointedChain();
    const noKey = await arbiter(['provenance', 'verify', '--tenant', tenant], {
      DATABASE_URL: testStack().databaseUrl,
      ARBITER_HOME: tempDir('arbiter-empty-home-'),
    });
    assert.equal(noKey.code, 1);
    assert.match(noKey.stderr, /checkpoint REFUSED: no trusted key was given to check it with/);

    const verdictLike = stackKey().signer.signStatement({ tenant } as never).envelope;
    const file = path.join(tempDir('arbiter-ckpt-'), 'verdict.json');
    writeFileSync(file, verdictLike);
    const confused = await provenance('verify', '--tenant', tenant, '--key', stackKey().pub, '--checkpoint', file);
    assert.equal(confused.code, 1);
    assert.match(confused.stderr, /checkpoint REFUSED: payloadType is 'application\/vnd.in-toto\+json'/);
  });
});
