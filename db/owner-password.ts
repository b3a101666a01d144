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

/** A password nobody else has seen. */
export const randomPassword = () => randomBytes(24).toString('base64url');

/** Where the owner's password of the data in `dataDir` is kept. */
export function ownerPasswordFile(dataDir: string): string {
  return `${dataDir}.owner-password`;
}

/**
 * The owner's password of the data in `dataDir`: the kept one, or a new one kept first. The file
 * is made anew (`wx`, mode 0600), never written through a link or into a file others may read.
 */
export async function ownerPassword(dataDir: string): Promise<string> {
  const file = ownerPasswordFile(dataDir);
  const kept = (await fs.readFile(file, 'utf8').catch(() => '')).trim();
  if (kept) return kept;
  await fs.rm(file, { force: true });
  const made = randomPassword();
  await fs.writeFile(file, `${made}\n`, { mode: 0o600, flag: 'wx' });
  return made;
}

/** A client logged in as the owner with `password`; undefined when it is the wrong one, any other refusal thrown. */
async function loggedIn(user: string, password: string, port: number): Promise<Client | undefined> {
  const url = `postgres://${encodeURIComponent(user)}:${encodeURIComponent(password)}@127.0.0.1:${port}/postgres`;
  const client = new Client({ connectionString: url });
  try {
    await client.connect();
    return client;
  } catch (err) {
    await client.end().catch(() => undefined);
    if ((err as { code?: string }).code === INVALID_PASSWORD) return undefined;
    throw err;
  }
}

/**
 * Makes the kept `password` the owner's on the running server, logging in with the first of
 * `former` that works when it is not yet: the one-off password the data was made with (the
 * library writes it to a temporary file anyone may read), or the legacy fixed one.
 */
export async function requireOwnerPassword(
  owner: { user: string; port: number; password: string; file: string },
  former: string[],
): Promise<void> {
  const { user, port, password } = owner;
  for (const tried of [password, ...former]) {
    const client = await loggedIn(user, tried, port);
    if (!client) continue;
    try {
      if (tried !== password)
        await client.query(`ALTER ROLE ${client.escapeIdentifier(user)} PASSWORD ${client.escapeLiteral(password)}`);
    } finally {
      await client.end();
    }
    return;
  }
  throw new Error(
    `the owner password kept in ${owner.file} does not log in to this data: put back the file that came with it`,
  );
}
