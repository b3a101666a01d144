/**
 * How a command reaches the gateway from inside the sandbox: the relay (this package's `inside`
 * directory and the worker's own node binary, both read-only) runs as the command's parent on a
 * fixed loopback port; the command's environment points its model clients at the relay and every
 * proxy variable at it too, with no exceptions (not even loopback), so traffic that honours
 * proxies is judged and audited by the gateway.
 */
import * as path from 'node:path';

/** The relay's port inside the sandbox's own network namespace (nothing else listens there). */
export const SANDBOX_GATEWAY_PORT = 8377;
/** The agent's private HOME: on the sandbox's tmpfs, gone with the command. */
export const SANDBOX_HOME = '/tmp/home';
const RELAY_DIR = '/opt/arbiter-relay';
const NODE = '/opt/arbiter-node';

/** The base URL of `upstream` as an agent inside the sandbox sees it. */
export function gatewayUrl(upstream: string): string {
  return `http://127.0.0.1:${SANDBOX_GATEWAY_PORT}/u/${upstream}`;
}

/** Replaces `{gateway:<name>}`, `{token}` and `{home}` in an agent's env or HOME-file value. */
export function expandAgentTemplate(value: string, token: string): string {
  return value
    .replace(/\{gateway:([A-Za-z0-9._-]+)\}/g, (_m, name: string) => gatewayUrl(name))
    .split('{token}')
    .join(token)
    .split('{home}')
    .join(SANDBOX_HOME);
}

/** What the sandbox needs to run `argv` behind the relay. */
export interface RelayLaunch {
  argv: string[];
  env: Record<string, string>;
  /** Read-only binds, [host path, sandbox path]. */
  binds: Array<[string, string]>;
}

/** Wraps `argv` so the relay starts first and the command inherits a gateway-facing environment. */
export function relayLaunch(argv: string[], homeFiles: Record<string, string>): RelayLaunch {
  const proxy = `http://127.0.0.1:${SANDBOX_GATEWAY_PORT}`;
  const env: Record<string, string> = {
    HOME: SANDBOX_HOME,
    ARBITER_LAUNCH: JSON.stringify({ port: SANDBOX_GATEWAY_PORT, home: SANDBOX_HOME, homeFiles, argv }),
  };
  for (const name of ['HTTP_PROXY', 'HTTPS_PROXY', 'ALL_PROXY']) {
    env[name] = proxy;
    env[name.toLowerCase()] = proxy;
  }
  return {
    argv: [NODE, `${RELAY_DIR}/relay.js`],
    env,
    binds: [
      [path.join(__dirname, 'inside'), RELAY_DIR],
      [process.execPath, NODE],
    ],
  };
}
