/**
 * The trust root: which ed25519 public keys a verifier accepts, read from text the operator
 * controls — a key file (`--key`) or a keyring they pin — never from the signed object itself.
 * One parser for every command that checks a signature (verdicts, provenance checkpoints,
 * approver keys), so all of them accept the same formats and refuse the same mistakes.
 *
 * Formats, each yielding Arbiter's key id `ed25519:<base64 of the 32-byte key>`:
 * - PEM SubjectPublicKeyInfo (`-----BEGIN PUBLIC KEY-----`, what `arbiter` writes as `.pub`);
 * - an OpenSSH line `ssh-ed25519 AAAA… [comment]` (what `ssh-keygen -t ed25519` writes).
 * A keyring holds any number of both, with blank lines and `#` comments.
 */
import { createPublicKey } from 'node:crypto';
import { appendFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { publicKeyOfKeyId } from '../domain/approval';
import { KeyFileMissingError, KeyFormatError } from '../domain/errors';
import { keyIdOf, publicKeyFromKeyId } from './signing';
import { keyIdOfRaw, rawFromSshBlob, sshBlobOfRaw } from './ssh-keys';

/** One trusted key and where it was read. */
export interface TrustedKey {
  keyId: string;
  /** `file:line` (or the caller's label), for messages. */
  source: string;
  /** The OpenSSH comment, when there is one. */
  comment?: string;
}

const SSH_ED25519 = 'ssh-ed25519';
const PEM_BEGIN = '-----BEGIN PUBLIC KEY-----';
const PEM_END = '-----END PUBLIC KEY-----';

/** The key as read, once it is known to be a key no one can sign for without the private half. */
function usable(key: TrustedKey): TrustedKey {
  if (!publicKeyOfKeyId(key.keyId))
    throw new KeyFormatError(
      key.source,
      'not a usable ed25519 public key (a small-order point, which anyone can sign for)',
    );
  return key;
}

function sshKeyId(line: string, source: string): TrustedKey {
  const [type, b64, ...comment] = line.trim().split(/\s+/);
  const blob = Buffer.from(b64 ?? '', 'base64');
  if (type !== SSH_ED25519 || !b64 || blob.toString('base64') !== b64)
    throw new KeyFormatError(source, `not an '${SSH_ED25519} <base64> [comment]' line`);
  return {
    keyId: keyIdOfRaw(rawFromSshBlob(blob, source)),
    source,
    ...(comment.length ? { comment: comment.join(' ') } : {}),
  };
}

function pemKeyId(pem: string, source: string): TrustedKey {
  let key;
  try {
    key = createPublicKey(pem);
  } catch (err) {
    throw new KeyFormatError(source, `unreadable PEM public key: ${(err as Error).message}`);
  }
  if (key.asymmetricKeyType !== 'ed25519')
    throw new KeyFormatError(source, `a ${key.asymmetricKeyType ?? 'unknown'} key, not ed25519`);
  return { keyId: keyIdOf(key), source };
}

/**
 * The key id of one public key given as text (PEM SPKI or an `ssh-ed25519` line); throws
 * KeyFormatError naming `source` for anything else, private keys included.
 */
export function keyIdFromPublicKeyText(text: string, source = 'public key'): string {
  const keys = parseKeyring(text, source);
  if (keys.length !== 1) throw new KeyFormatError(source, `expected one public key, found ${keys.length}`);
  return keys[0].keyId;
}

/** Every key in keyring text, in order; any line that is not a key, blank or a `#` comment is refused. */
export function parseKeyring(text: string, source: string): TrustedKey[] {
  const lines = text.split(/\r?\n/);
  const keys: TrustedKey[] = [];
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].trim();
    const at = `${source}:${i + 1}`;
    if (!line || line.startsWith('#')) continue;
    if (line === PEM_BEGIN) {
      const end = lines.findIndex((l, j) => j > i && l.trim() === PEM_END);
      if (end < 0) throw new KeyFormatError(at, `'${PEM_BEGIN}' without '${PEM_END}'`);
      keys.push(usable(pemKeyId(lines.slice(i, end + 1).join('\n'), at)));
      i = end;
    } else if (line.startsWith(`${SSH_ED25519} `)) keys.push(usable(sshKeyId(line, at)));
    else
      throw new KeyFormatError(
        at,
        `expected a PEM public key ('${PEM_BEGIN}') or an '${SSH_ED25519} AAAA…' line, found '${line.slice(0, 40)}'`,
      );
  }
  return keys;
}

/** The keys in `file`, which must exist (a `--key` the operator named). */
export function readKeyFile(file: string): TrustedKey[] {
  if (!existsSync(file)) throw new KeyFileMissingError(file);
  const keys = parseKeyring(readFileSync(file, 'utf8'), file);
  if (!keys.length) throw new KeyFormatError(file, 'holds no public key');
  return keys;
}

/** The keys a pinned keyring trusts; none when the file does not exist yet. */
export function loadKeyring(file: string): TrustedKey[] {
  return existsSync(file) ? parseKeyring(readFileSync(file, 'utf8'), file) : [];
}

/** `ssh-ed25519 <blob> [comment]` for a key id: the one-line form a keyring stores. */
export function sshPublicKeyLine(keyId: string, comment = ''): string {
  const raw = publicKeyFromKeyId(keyId).export({ type: 'spki', format: 'der' }).subarray(-32);
  const blob = sshBlobOfRaw(raw);
  const note = comment.replace(/\s+/g, ' ').trim();
  return `${SSH_ED25519} ${blob.toString('base64')}${note ? ` ${note}` : ''}`;
}

/**
 * Adds `keyId` to the keyring at `file` (created owner-only) unless it is there already;
 * returns whether it was added. Callers make the pin loud: trust is never extended silently.
 */
export function pinKey(file: string, keyId: string, comment: string): boolean {
  if (loadKeyring(file).some((k) => k.keyId === keyId)) return false;
  mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  const lead = existsSync(file) && !readFileSync(file, 'utf8').endsWith('\n') ? '\n' : '';
  appendFileSync(file, `${lead}${sshPublicKeyLine(keyId, comment)}\n`, { mode: 0o600 });
  return true;
}
