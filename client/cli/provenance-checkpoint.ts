/**
 * `arbiter provenance checkpoint [--tenant T] [--out FILE]`: signs each chain's head with the
 * worker's key, and the pieces `provenance verify` needs to check checkpoints: which keys to
 * trust, and checkpoints the operator kept in files outside the database.
 */
import { createPublicKey, type KeyObject } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { provenanceTenants } from '../../db/provenance';
import { readCheckpoint, takeCheckpoint, type ReadCheckpoint } from '../../db/provenance-checkpoints';
import { createVerdictSigner, keyIdOf, loadOrCreateSigningKey } from '../../host/signing';
import { signingKeyFileOf } from '../../workers/worker';
import { loadClientConfig } from '../config';
import { EXIT, printJson, UsageError } from './output';
import { withDb } from './with-db';

/** The ed25519 public key in PEM file `file` (a private key's public half when given one). */
function readPublicKey(file: string, what: string): KeyObject {
  if (!existsSync(file)) throw new UsageError(`${what} '${file}' does not exist`);
  let key: KeyObject;
  try {
    key = createPublicKey(readFileSync(file));
  } catch (err) {
    throw new UsageError(`${what} '${file}' is not a PEM key: ${(err as Error).message}`);
  }
  if (key.asymmetricKeyType !== 'ed25519') throw new UsageError(`${what} '${file}' is not an ed25519 key`);
  return key;
}

/**
 * The keys checkpoints must be signed by: every `--key` file, else this installation's own
 * public key, which the note says (it proves only that this host signed, not whom to trust).
 * One small function on purpose: a shared keyring replaces it.
 */
export function checkpointTrustedKeys(keyFiles: string[]): { keyIds: string[]; note?: string } {
  if (keyFiles.length) return { keyIds: keyFiles.map((f) => keyIdOf(readPublicKey(f, '--key'))) };
  const keyFile = signingKeyFileOf(loadClientConfig());
  const local = [`${keyFile}.pub`, keyFile].find((f) => existsSync(f));
  if (!local) return { keyIds: [], note: `no --key given and no local signing key at ${keyFile}: nothing to trust` };
  const keyId = keyIdOf(readPublicKey(local, 'local signing key'));
  return {
    keyIds: [keyId],
    note: `no --key given: trusting only the LOCAL signing key ${keyId} (${local}); pass --key FILE to name the keys you trust`,
  };
}

/** Every checkpoint in `files` (one DSSE envelope, or a JSON array of them, per file), read against `keyIds`. */
export function readCheckpointFiles(files: string[], keyIds: string[]): ReadCheckpoint[] {
  return files.flatMap((file) => {
    if (!existsSync(file)) throw new UsageError(`--checkpoint '${file}' does not exist`);
    let content: unknown;
    try {
      content = JSON.parse(readFileSync(file, 'utf8'));
    } catch {
      throw new Error(`--checkpoint '${file}' is not JSON`);
    }
    const envelopes = Array.isArray(content) ? content : [content];
    return envelopes.map((envelope, i) => {
      const source = `file ${file}${Array.isArray(content) ? `[${i}]` : ''}`;
      const read = readCheckpoint(JSON.stringify(envelope), source, keyIds);
      if (!read.tenant) throw new Error(`${source} is not a provenance checkpoint: ${read.problems.join('; ')}`);
      return read;
    });
  });
}

/** The worker's signing key, never created here: a checkpoint signed by a new key would be trusted by nobody. */
function workerSigner() {
  const file = signingKeyFileOf(loadClientConfig());
  if (!existsSync(file))
    throw new UsageError(
      `no signing key at ${file}: run this where the worker's key is, with its ARBITER_HOME or ARBITER_SIGNING_KEY_FILE`,
    );
  return createVerdictSigner(loadOrCreateSigningKey(file));
}

/** `provenance checkpoint`: signs each chain (or one) that extends its last checkpoint intact; exit 1 naming any refused. */
export async function checkpoint(opts: { tenant?: string; out?: string; json?: boolean }): Promise<number> {
  const signer = workerSigner();
  return withDb(async (db) => {
    const tenants = opts.tenant ? [opts.tenant] : await provenanceTenants(db);
    const results = [];
    for (const tenantId of tenants) results.push({ tenantId, ...(await takeCheckpoint(db, signer, tenantId)) });
    const shown = results.map((r) => (r.ok ? { ...r, envelope: JSON.parse(r.envelope) as unknown } : r));
    const kept = shown.flatMap((r) => (r.ok ? [r.envelope] : []));
    if (opts.out) writeFileSync(opts.out, `${JSON.stringify(kept, null, 2)}\n`);
    if (opts.json) printJson(shown);
    else {
      for (const r of results)
        if (r.ok)
          process.stdout.write(
            `signed ${r.tenantId}: seq ${r.checkpoint.seq} head ${r.checkpoint.headHash} by ${signer.keyId}\n`,
          );
        else process.stderr.write(r.problems.map((p) => `REFUSED ${r.tenantId}: ${p}\n`).join(''));
      if (opts.out) process.stdout.write(`wrote ${kept.length} checkpoint(s) to ${opts.out}\n`);
    }
    return kept.length === results.length ? EXIT.ok : EXIT.failed;
  });
}
