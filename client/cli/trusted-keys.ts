/**
 * Which keys a verify command (`verdict verify`, `provenance verify`) trusts: exactly the
 * `--key` files when given, else the keyring the operator pinned (ARBITER_TRUSTED_KEYS, default
 * `<ARBITER_HOME>/trusted-keys`). Nothing else — not the key an envelope names, not the worker's
 * key next door — unless the operator asks with `--trust-worker-key`, which pins it into the
 * keyring under a loud banner.
 */
import { createPublicKey } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import type { Command } from 'commander';
import {
  KeyChosenByOthersError,
  KeyFileMissingError,
  KeyFormatError,
  NoTrustedKeyError,
  WorkerKeyMismatchError,
} from '../../domain/errors';
import { arbiterHomeOf, checkoutCarriedReason, sharedWritableReason } from '../../host/checkout-carried';
import { keyIdOf, readSigningKey } from '../../host/signing';
import { keyIdFromPublicKeyText, loadKeyring, pinKey, readKeyFile, type TrustedKey } from '../../host/trust';
import { signingKeyFileOf } from '../../workers/worker';
import type { ClientConfig } from '../config';
import { collect, UsageError } from './output';

/** How the operator chose trust on the command line. */
export interface TrustOptions {
  key: string[];
  trustWorkerKey?: boolean;
}

function howToTrust(keyring: string): string {
  return (
    `pass --key FILE (a PEM or ssh-ed25519 public key), add the verifier's public key to ${keyring} ` +
    "(one per line; ARBITER_TRUSTED_KEYS names another keyring), or pin this installation's worker key with --trust-worker-key"
  );
}

function banner(lines: string[]): void {
  const rule = '!'.repeat(78);
  process.stderr.write(`${[rule, ...lines.map((l) => `!! ${l}`), rule].join('\n')}\n`);
}

/** Why the signing key may be out of reach here without being wrong: absent, or another user's. */
const UNREADABLE = new Set(['ENOENT', 'EACCES', 'EPERM']);

/**
 * The key id the signing key itself proves, or why it cannot be read here (the CLI on another
 * host, or as another user). A `.pub` anyone could write names whatever key they like; the private
 * key beside it is what the worker signs with. A key that is there but does not parse (a folder,
 * garbage) proves nothing and is refused: the worker cannot be signing with it either.
 */
function provenKeyId(file: string): { keyId: string } | { unread: string } {
  try {
    return { keyId: keyIdOf(createPublicKey(readSigningKey(file))) };
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code && UNREADABLE.has(code)) return { unread: code };
    throw new KeyFormatError(file, `not a signing key the worker could use (${(err as Error).message})`);
  }
}

/**
 * Pins the worker's own public key (the `.pub` beside its signing key) into the keyring, loudly;
 * refused when the signing key beside it, readable here, is another key.
 */
function pinWorkerKey(config: ClientConfig): void {
  const signingKey = signingKeyFileOf(config);
  const pub = `${signingKey}.pub`;
  if (!existsSync(pub)) throw new KeyFileMissingError(pub);
  refuseChosenByOthers(config, [pub, signingKey]);
  const keyId = keyIdFromPublicKeyText(readFileSync(pub, 'utf8'), pub);
  const proof = provenKeyId(signingKey);
  const proven = 'keyId' in proof;
  if (proven && proof.keyId !== keyId) throw new WorkerKeyMismatchError(pub, keyId, signingKey, proof.keyId);
  const keyring = config.trustedKeysFile;
  if (!pinKey(keyring, keyId, `arbiter-worker-key pinned-on-first-use ${new Date().toISOString()}`)) {
    process.stderr.write(`arbiter: the worker key ${keyId} is already trusted in ${keyring}\n`);
    return;
  }
  banner([
    'TRUST ON FIRST USE: this worker key is now trusted for every verdict it signs',
    `  key id:  ${keyId}`,
    `  read:    ${pub}`,
    proven
      ? `  proven:  by the signing key beside it, ${signingKey}`
      : `  NOT proven: the signing key ${signingKey} could not be read here (${proof.unread})`,
    `  pinned:  ${keyring}`,
    `Whoever could write that ${proven ? 'signing key' : '.pub file'} chose this key. Compare the key id with the`,
    "worker operator's over another channel; delete its line from the keyring to revoke.",
  ]);
}

/**
 * Refuses to pin a worker key whose files someone other than the operator may have chosen: ones
 * that came with a checkout (unless the operator named the signing key's file), or that others may
 * write. A repository carrying `.arbiter/keys/` would otherwise have its authors' key pinned, and
 * "proven" by the private half they committed beside it.
 */
function refuseChosenByOthers(config: ClientConfig, files: string[]): void {
  for (const file of files.filter((f) => existsSync(f))) {
    const reason =
      (config.signingKeyFile ? undefined : checkoutCarriedReason(file, arbiterHomeOf(config))) ??
      sharedWritableReason(file);
    if (reason)
      throw new KeyChosenByOthersError(
        file,
        reason,
        'a worker key others may have chosen is not pinned; compare its key id with the worker operator ' +
          "and pass --key, or name the worker's key with ARBITER_SIGNING_KEY_FILE",
      );
  }
}

/**
 * The default keyring is `./.arbiter/trusted-keys` when nothing names another: run in a
 * repository that carries one, it would trust whatever key that repository's authors chose.
 */
function refuseCheckedOutKeyring(config: ClientConfig): void {
  const keyring = config.trustedKeysFile;
  if (config.explicit.trustedKeys || !existsSync(keyring)) return;
  const reason = checkoutCarriedReason(keyring, arbiterHomeOf(config));
  if (!reason) return;
  throw new UsageError(
    `${keyring} ${reason}: a keyring that comes with a checkout is not a trust root; ${howToTrust(keyring)}`,
  );
}

/** The keys to verify against; throws NoTrustedKeyError (saying how to trust one) when there are none. */
export function trustedKeys(opts: TrustOptions, config: ClientConfig): TrustedKey[] {
  if (opts.key.length) {
    if (opts.trustWorkerKey)
      throw new UsageError('--trust-worker-key pins into the keyring; it cannot be used with --key');
    return opts.key.flatMap(readKeyFile);
  }
  refuseCheckedOutKeyring(config);
  if (opts.trustWorkerKey) pinWorkerKey(config);
  const keys = loadKeyring(config.trustedKeysFile);
  if (!keys.length) throw new NoTrustedKeyError(config.trustedKeysFile, howToTrust(config.trustedKeysFile));
  return keys;
}

/** Adds the trust options every verify command takes, worded alike. */
export function withTrustOptions(command: Command): Command {
  return command
    .option(
      '--key <file>',
      'trust exactly this public key file (PEM or ssh-ed25519; repeatable) instead of the keyring',
      collect,
      [],
    )
    .option(
      '--trust-worker-key',
      "pin this installation's worker signing key (<key>.pub) into the keyring first (trust on first use, announced)",
    );
}
