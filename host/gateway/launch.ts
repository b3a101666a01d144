/**
 * How a command reaches the gateway from inside the sandbox: the relay (this package's `inside`
 * directory and the worker's own node binary, both read-only) runs as the command's parent on a
 * fixed loopback port; the command's environment points its model clients at the relay and every
 * proxy variable at it too, with no exceptions (not even loopback), so traffic that honours
 * proxies is judged and audited by the gateway.
 */
import * as path from 'node:path';
import type { PlaceholderValues } from '../../domain/agent-placeholders';
import type { SandboxMount } from '../sandbox/bwrap';

/** The relay's port inside the sandbox's own network namespace (nothing else listens there). */
export const SANDBOX_GATEWAY_PORT = 8377;
/** The agent's private HOME: a tmpfs of its own, gone with the command (not under /tmp: Codex refuses that). */
export const SANDBOX_HOME = '/home/agent';
const HOME_BYTES = 64 * 1024 * 1024;
const RELAY_DIR = '/opt/arbiter-relay';
const NODE = '/opt/arbiter-node';

/** The base URL of `upstream` as an agent inside the sandbox sees it. */
export function gatewayUrl(upstream: string): string {
  return `http://127.0.0.1:${SANDBOX_GATEWAY_PORT}/u/${upstream}`;
}

/** What `{gateway:…}`, `{token}` and `{home}` stand for in a run with `token`. */
export function placeholderValues(token: string): PlaceholderValues {
  return { gateway: gatewayUrl, token, home: SANDBOX_HOME };
}

/** What the sandbox needs to run `argv` behind the relay. */
export interface RelayLaunch {
  argv: string[];
  env: Record<string, string>;
  mounts: SandboxMount[];
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
    mounts: [
      { kind: 'ro-bind', from: path.join(__dirname, 'inside'), to: RELAY_DIR },
      { kind: 'ro-bind', from: process.execPath, to: NODE },
      { kind: 'tmpfs', path: SANDBOX_HOME, bytes: HOME_BYTES },
    ],
  };
}
