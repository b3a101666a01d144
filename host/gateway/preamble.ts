/**
 * The line a bridge writes first on every connection it opens to the gateway, naming the session.
 * Only the worker's bridges reach the gateway's socket (it is the worker's, mode 0700), so the
 * session a connection claims is the one the worker gave the command, never the sandbox's say.
 */

const PREFIX = 'ARBITER-SESSION ';
/** Longest preamble the gateway reads before giving up on a connection. */
export const MAX_PREAMBLE = 200;

/** The preamble for `sessionId`. */
export function sessionPreamble(sessionId: string): string {
  return `${PREFIX}${sessionId}\n`;
}

/** The session id a preamble line names, or undefined when it is not one. */
export function parsePreamble(line: string): string | undefined {
  return line.startsWith(PREFIX) ? line.slice(PREFIX.length).trim() || undefined : undefined;
}
