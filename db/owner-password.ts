/**
 * The embedded server's owner (a superuser) logs in with a password made at random when its data
 * is, kept beside the data and readable by its owner alone. A password written in the source let
 * any local user log in on the loopback port as superuser: read every tenant's rows past
 * row-level security, and run programs as the server, whose environment holds the shell's keys.
 */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs/promises';
import { Client } from 'pg';

/** The owner's password in data made before passwords were random. */
export const LEGACY_OWNER_PASSWORD = 'arbiter-local';

const INVALID_PASSWORD = '28P01';

/** Where the owner's password of the data in `dataDir` is kept. */
export function ownerPasswordFile(dataDir: string): string {
  return `${dataDir}.owner-password`;
}

/** The owner's password of the data in `dataDir`: the kept one, or a new one kept (mode 0600) before any use. */
export async function ownerPassword(dataDir: string): Promise<string> {
  const file = ownerPasswordFile(dataDir);
  const kept = (await fs.readFile(file, 'utf8').catch(() => ''))?.trim();
  if (kept) return kept;
  const made = randomBytes(24).toString('base64url');
  await fs.writeFile(file, `${made}\n`, { mode: 0o600 });
  return made;
}

function connectionString(user: string, password: string, port: number): string {
  return `postgres://${encodeURIComponent(user)}:${encodeURIComponent(password)}@127.0.0.1:${port}/postgres`;
}

/**
 * Makes `password` the owner's on the running server. Data still holding the legacy password
 * (made before this release, or by a start that stopped between keeping a password and setting
 * it) is given it here; any other refusal is thrown.
 */
export async function requireOwnerPassword(user: string, password: string, port: number): Promise<void> {
  const current = new Client({ connectionString: connectionString(user, password, port) });
  try {
    await current.connect();
    return;
  } catch (err) {
    if ((err as { code?: string }).code !== INVALID_PASSWORD) throw err;
  } finally {
    await current.end().catch(() => undefined);
  }
  const legacy = new Client({ connectionString: connectionString(user, LEGACY_OWNER_PASSWORD, port) });
  await legacy.connect();
  try {
    await legacy.query(`ALTER ROLE ${legacy.escapeIdentifier(user)} PASSWORD ${legacy.escapeLiteral(password)}`);
  } finally {
    await legacy.end();
  }
}
