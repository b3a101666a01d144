/**
 * Which keys a verify command (`verdict verify`, `provenance verify`) trusts: exactly the
 * `--key` files when given, else the keyring the operator pinned (ARBITER_TRUSTED_KEYS, default
 * `<ARBITER_HOME>/trusted-keys`). Nothing else — not the key an envelope names, not the worker's
 * key next door — unless the operator asks with `--trust-worker-key`, which pins it into the
 * keyring under a loud banner.
 */
import { spawnSync } from 'node:child_process';
import { createPublicKey } from 'node:crypto';
import { existsSync, lstatSync, readFileSync, realpathSync } from 'node:fs';
import * as path from 'node:path';
import type { Command } from 'commander';
import { KeyFileMissingError, KeyFormatError, NoTrustedKeyError, WorkerKeyMismatchError } from '../../domain/errors';
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
 * Why `file` may have come with a checkout, written by whoever could commit there (an agent's
 * delivered change, a pull request) rather than by this operator, or undefined when git says it
 * is in no repository or untracked in one. Anything git cannot answer (a repository another user
 * owns, git missing) is a reason too: a check that fails open would trust the checkout's keys.
 */
function checkedOutReason(file: string): string | undefined {
  const run = spawnSync('git', ['-C', path.dirname(file), 'ls-files', '--error-unmatch', '--', path.basename(file)], {
    encoding: 'utf8',
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', GIT_CONFIG_NOSYSTEM: '1', HOME: '/nonexistent' },
  });
  if (run.status === 0) return 'is tracked by git';
  const said = (run.stderr ?? '').trim();
  if (run.status === 1 || /not a git repository/i.test(said)) return undefined;
  return `may be tracked by git, which could not tell (${said.split('\n')[0] || run.error?.message || `exit ${run.status}`})`;
}

/**
 * A symlink as the keyring or its folder: a checkout can carry `.arbiter` as a link into a folder
 * git ignores (a build output, an installed package), so the keys arrive with it untracked. A
 * home the operator named (ARBITER_HOME) is theirs, links and all.
 */
function linkedReason(keyring: string, homeNamed: boolean): string | undefined {
  if (homeNamed) return undefined;
  const link = [path.dirname(keyring), keyring].find((p) => lstatSync(p).isSymbolicLink());
  return link && `is reached through the symlink ${link} (to ${realpathSync(link)})`;
}

/**
 * The default keyring is `./.arbiter/trusted-keys` when nothing names another: run in a
 * repository that carries one, it would trust whatever key that repository's authors chose.
 */
function refuseCheckedOutKeyring(config: ClientConfig): void {
  const keyring = config.trustedKeysFile;
  if (config.explicit.trustedKeys || !existsSync(keyring)) return;
  const reason = linkedReason(keyring, config.explicit.home) ?? checkedOutReason(keyring);
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
