/**
 * `arbiter provenance checkpoint [--tenant T] [--out FILE]`: signs each chain's head with the
 * worker's key; and checkpoints the operator kept in files outside the database, for
 * `provenance verify` to check.
 */
import { existsSync, writeFileSync } from 'node:fs';
import { readHandedFile } from './handed-file';
import { provenanceTenants } from '../../db/provenance';
import { readCheckpoint, takeCheckpoint, type ReadCheckpoint } from '../../db/provenance-checkpoints';
import { arbiterHomeOf, refuseCarriedSigningKey } from '../../host/checkout-carried';
import { createVerdictSigner, loadOrCreateSigningKey } from '../../host/signing';
import { signingKeyFileOf } from '../../workers/worker';
import { loadClientConfig } from '../config';
import { EXIT, printJson, UsageError } from './output';
import { withDb } from './with-db';

/** A checkpoint file's bound: some 35,000 checkpoints, far more than an operator keeps in one. */
const MAX_CHECKPOINT_FILE_BYTES = 16 * 1024 * 1024;

/**
 * The DSSE fields of anyone's `value`, as text for the envelope reader: what else it holds is never
 * serialised again (an array nested 150,000 deep beside them overflowed the stack, found in review).
 */
function envelopeText(value: unknown): string {
  if (!value || typeof value !== 'object' || Array.isArray(value)) return JSON.stringify(null);
  const { payloadType, payload, signatures } = value as Record<string, unknown>;
  const flat = (v: unknown) => (typeof v === 'string' ? v : null);
  const signed = Array.isArray(signatures)
    ? signatures.map((sig: unknown) => {
        const { keyid, sig: text } = (sig && typeof sig === 'object' ? sig : {}) as Record<string, unknown>;
        return { keyid: flat(keyid), sig: flat(text) };
      })
    : null;
  return JSON.stringify({ payloadType: flat(payloadType), payload: flat(payload), signatures: signed });
}

/** Every checkpoint in `files` (one DSSE envelope, or a JSON array of them, per file), read against `keyIds`. */
export function readCheckpointFiles(files: string[], keyIds: string[]): ReadCheckpoint[] {
  return files.flatMap((file) => {
    if (!existsSync(file)) throw new UsageError(`--checkpoint '${file}' does not exist`);
    const text = readHandedFile(file, MAX_CHECKPOINT_FILE_BYTES, '--checkpoint');
    let content: unknown;
    try {
      content = JSON.parse(text);
    } catch {
      throw new Error(`--checkpoint '${file}' is not JSON`);
    }
    const envelopes = Array.isArray(content) ? content : [content];
    return envelopes.map((envelope, i) => {
      const source = `file ${file}${Array.isArray(content) ? `[${i}]` : ''}`;
      const read = readCheckpoint(envelopeText(envelope), source, keyIds);
      if (!read.tenant) throw new Error(`${source} is not a provenance checkpoint: ${read.problems.join('; ')}`);
      return read;
    });
  });
}

/** The worker's signing key, never created here: a checkpoint signed by a new key would be trusted by nobody. */
function workerSigner() {
  const config = loadClientConfig();
  const file = signingKeyFileOf(config);
  if (!config.signingKeyFile) refuseCarriedSigningKey(file, arbiterHomeOf(config));
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
    const refused = kept.length !== results.length;
    // A refused chain's last checkpoint, in the file, is what shows the rewrite: the file is kept as it was.
    if (opts.out && !refused) writeFileSync(opts.out, `${JSON.stringify(kept, null, 2)}\n`);
    if (opts.json) printJson(shown);
    else {
      for (const r of results)
        if (r.ok)
          process.stdout.write(
            `signed ${r.tenantId}: seq ${r.checkpoint.seq} head ${r.checkpoint.headHash} by ${signer.keyId}\n`,
          );
        else process.stderr.write(r.problems.map((p) => `REFUSED ${r.tenantId}: ${p}\n`).join(''));
      if (opts.out && !refused) process.stdout.write(`wrote ${kept.length} checkpoint(s) to ${opts.out}\n`);
      if (opts.out && refused) process.stderr.write(`${opts.out} not written: it keeps the checkpoints it had\n`);
    }
    return refused ? EXIT.failed : EXIT.ok;
  });
}
