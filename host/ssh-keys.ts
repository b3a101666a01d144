/**
 * The OpenSSH side of ed25519 keys as people already hold them: the wire format of key blobs
 * (shared with host/trust.ts, which reads public keys), unencrypted OpenSSH private keys, and a
 * running ssh-agent, which signs without the private key ever leaving it. Keys are named by
 * Arbiter's key id (`ed25519:<base64 of the raw 32-byte key>`), as approvals and verdicts name them.
 */
import { createPrivateKey, type KeyObject } from 'node:crypto';
import * as net from 'node:net';
import { KeyFormatError } from '../domain/errors';

const SSH_ED25519 = 'ssh-ed25519';
const PKCS8_ED25519_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');

/** Reads SSH wire-format strings (uint32 length, bytes) in order. */
class WireReader {
  private at = 0;
  constructor(
    private readonly buf: Buffer,
    private readonly source = 'SSH key data',
  ) {}
  /** True when every byte was read. */
  done(): boolean {
    return this.at === this.buf.length;
  }
  string(): Buffer {
    if (this.at + 4 > this.buf.length) throw new KeyFormatError(this.source, 'the key blob is malformed (truncated)');
    const len = this.buf.readUInt32BE(this.at);
    const end = this.at + 4 + len;
    if (end > this.buf.length) throw new KeyFormatError(this.source, 'the key blob is malformed (truncated)');
    const out = this.buf.subarray(this.at + 4, end);
    this.at = end;
    return out;
  }
  uint32(): number {
    if (this.at + 4 > this.buf.length) throw new KeyFormatError(this.source, 'the key blob is malformed (truncated)');
    this.at += 4;
    return this.buf.readUInt32BE(this.at - 4);
  }
}

/** One SSH wire-format string: a big-endian uint32 length, then the bytes. */
export function wireString(data: Buffer | string): Buffer {
  const body = Buffer.from(data);
  const len = Buffer.alloc(4);
  len.writeUInt32BE(body.length);
  return Buffer.concat([len, body]);
}

/** The key id of a raw 32-byte ed25519 public key. */
export function keyIdOfRaw(raw: Buffer): string {
  return `ed25519:${raw.toString('base64')}`;
}

/** The raw public key in an OpenSSH `ssh-ed25519` blob (its type, then 32 bytes, nothing after). */
export function rawFromSshBlob(blob: Buffer, source = 'ssh key'): Buffer {
  const r = new WireReader(blob, source);
  const type = r.string().toString();
  if (type !== SSH_ED25519)
    throw new KeyFormatError(source, `the key blob is malformed: its type is '${type}', only ssh-ed25519 is accepted`);
  const raw = r.string();
  if (raw.length !== 32 || !r.done())
    throw new KeyFormatError(source, 'the ssh-ed25519 key blob is malformed (expected its type and a 32-byte key)');
  return raw;
}

/** The OpenSSH public key blob of a raw ed25519 key (what ssh-agent and `.pub` lines carry). */
export function sshBlobOfRaw(raw: Buffer): Buffer {
  return Buffer.concat([wireString(SSH_ED25519), wireString(raw)]);
}

/** An unencrypted OpenSSH private key (`-----BEGIN OPENSSH PRIVATE KEY-----`) as a KeyObject. */
function openSshPrivateKey(text: string, source: string): KeyObject {
  const body = Buffer.from(text.replace(/-----[^-]+-----/g, '').replace(/\s+/g, ''), 'base64');
  const magic = Buffer.from('openssh-key-v1\0');
  if (!body.subarray(0, magic.length).equals(magic)) throw new KeyFormatError(source, 'not an OpenSSH private key');
  const r = new WireReader(body.subarray(magic.length), source);
  const cipher = r.string().toString();
  r.string(); // kdf name
  r.string(); // kdf options
  if (cipher !== 'none')
    throw new KeyFormatError(
      source,
      'the OpenSSH key is passphrase-protected: load it into ssh-agent and pass its .pub',
    );
  if (r.uint32() !== 1) throw new KeyFormatError(source, 'the OpenSSH key file must hold exactly one key');
  r.string(); // public key blob
  const priv = new WireReader(r.string(), source);
  if (priv.uint32() !== priv.uint32())
    throw new KeyFormatError(source, 'corrupt OpenSSH private key (check bytes differ)');
  if (priv.string().toString() !== SSH_ED25519)
    throw new KeyFormatError(source, 'only ssh-ed25519 private keys are accepted');
  priv.string(); // public half
  const seed = priv.string().subarray(0, 32);
  return createPrivateKey({ key: Buffer.concat([PKCS8_ED25519_PREFIX, seed]), format: 'der', type: 'pkcs8' });
}

/** A private key file's text (OpenSSH or PEM PKCS8) as an ed25519 KeyObject. */
export function privateKeyFromText(text: string, source = 'private key'): KeyObject {
  let key: KeyObject;
  try {
    key = text.includes('OPENSSH PRIVATE KEY') ? openSshPrivateKey(text, source) : createPrivateKey(text);
  } catch (err) {
    if (err instanceof KeyFormatError) throw err;
    throw new KeyFormatError(source, `unreadable private key: ${(err as Error).message}`);
  }
  if (key.asymmetricKeyType !== 'ed25519')
    throw new KeyFormatError(source, `an ${key.asymmetricKeyType} key: use ed25519`);
  return key;
}

const AGENT_REQUEST_IDENTITIES = 11;
const AGENT_IDENTITIES_ANSWER = 12;
const AGENT_SIGN_REQUEST = 13;
const AGENT_SIGN_RESPONSE = 14;

/** One request/response exchange with the agent at `socket`. */
function agentExchange(socket: string, message: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const conn = net.createConnection(socket);
    let got = Buffer.alloc(0);
    conn.on('connect', () => conn.write(wireString(message)));
    conn.on('data', (chunk) => {
      got = Buffer.concat([got, chunk]);
      if (got.length >= 4 && got.length >= 4 + got.readUInt32BE(0)) {
        conn.end();
        resolve(got.subarray(4, 4 + got.readUInt32BE(0)));
      }
    });
    conn.on('error', (err) => reject(new KeyFormatError(`ssh-agent at ${socket}`, err.message)));
  });
}

/** The raw ed25519 signature the agent makes over `data` with the key `raw` (the key never leaves it). */
export async function agentSign(socket: string, raw: Buffer, data: Buffer): Promise<Buffer> {
  const request = Buffer.concat([
    Buffer.from([AGENT_SIGN_REQUEST]),
    wireString(sshBlobOfRaw(raw)),
    wireString(data),
    Buffer.alloc(4),
  ]);
  const reply = await agentExchange(socket, request);
  if (reply[0] !== AGENT_SIGN_RESPONSE)
    throw new KeyFormatError('ssh-agent', `it refused to sign with ${keyIdOfRaw(raw)}: is that key loaded (ssh-add)?`);
  const sig = new WireReader(new WireReader(reply.subarray(1), 'ssh-agent').string(), 'ssh-agent');
  if (sig.string().toString() !== SSH_ED25519)
    throw new KeyFormatError('ssh-agent', 'it returned a non-ed25519 signature');
  return sig.string();
}

/** The raw ed25519 public keys the agent at `socket` holds (other key types are skipped). */
export async function agentEd25519Keys(socket: string): Promise<Buffer[]> {
  const reply = await agentExchange(socket, Buffer.from([AGENT_REQUEST_IDENTITIES]));
  if (reply[0] !== AGENT_IDENTITIES_ANSWER) throw new KeyFormatError('ssh-agent', 'it did not list its keys');
  const r = new WireReader(reply.subarray(1), 'ssh-agent');
  const keys: Buffer[] = [];
  for (let n = r.uint32(); n > 0; n--) {
    const blob = r.string();
    r.string(); // comment
    try {
      keys.push(rawFromSshBlob(blob));
    } catch {
      // not ed25519: not usable for approvals
    }
  }
  return keys;
}
