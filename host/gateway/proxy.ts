/**
 * The gateway as the sandbox's HTTP proxy (HTTP_PROXY and HTTPS_PROXY point at the relay):
 * tunnels and plain requests reach only the registries the session grants (a policy's setup),
 * and every attempt, allowed or refused, is audited with its target. An agent's session grants
 * none, so whatever an agent tries to reach this way is refused and shows in the record. A
 * registry on the worker's own network is reached only when the operator lists it.
 */
import { lookup } from 'node:dns/promises';
import * as http from 'node:http';
import * as net from 'node:net';
import type { Duplex } from 'node:stream';
import type { Db } from '../../db/client';
import { auditGateway } from './audit';
import type { GatewaySession } from './session';
import { listedHost, workerNetworkReason } from './worker-network';

/** What the proxy needs from the worker. */
export interface ProxyDeps {
  db: Db;
  /** Registries on the worker's own network the operator allows, as `host` (any port) or `host:port`. */
  privateRegistries?: readonly string[];
}

function refusal(session: GatewaySession, target: string): string {
  return session.grant.registries.length
    ? `${target} is not one of the registries this run may reach (${session.grant.registries.join(', ')})`
    : `${target} is not reachable from the sandbox: only the model gateway is`;
}

/**
 * The address to open for a granted `host:port`, resolved once (so the check holds for the
 * connection), or why not. Why: a policy names its registries, and a name on the worker's own
 * network would hand the sandbox the worker's database, Temporal or cloud metadata.
 */
async function resolveRegistry(
  deps: ProxyDeps,
  host: string,
  port: string,
): Promise<{ address: string } | { reason: string }> {
  const found = await lookup(host, { all: true }).catch(() => []);
  if (!found.length) return { reason: `${host} does not resolve` };
  const addresses = found.map((a) => a.address);
  const inside = listedHost(deps.privateRegistries, host, port)
    ? undefined
    : workerNetworkReason(`${host}:${port}`, addresses, 'ARBITER_PRIVATE_REGISTRIES');
  return inside ? { reason: inside } : { address: addresses[0] };
}

/** The address to open for `host:port` in `session`, or the refusal. */
async function decide(deps: ProxyDeps, session: GatewaySession, host: string, port: string, target: string) {
  if (!host || !port || !session.allowsRegistry(`${host}:${port}`)) return { reason: refusal(session, target) };
  return resolveRegistry(deps, host, port);
}

/** Handles `CONNECT host:port`. */
export async function proxyConnect(
  deps: ProxyDeps,
  session: GatewaySession,
  req: http.IncomingMessage,
  client: Duplex,
) {
  const target = (req.url ?? '').toLowerCase();
  const [host, port] = target.split(':');
  const decision = await decide(deps, session, host, port, target);
  const reason = 'reason' in decision ? decision.reason : undefined;
  await auditGateway(deps.db, session, { op: 'connect', target, allowed: !reason, reason });
  if (!('address' in decision)) {
    client.end(`HTTP/1.1 403 Forbidden\r\ncontent-type: text/plain\r\n\r\narbiter gateway: ${reason}\n`);
    return;
  }
  const upstream = net.connect(Number(port), decision.address, () => {
    client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
    upstream.pipe(client);
    client.pipe(upstream);
  });
  upstream.on('error', () => client.destroy());
  client.on('error', () => upstream.destroy());
}

/** Handles a plain `GET http://host/…` sent to the proxy. */
export async function proxyPlain(
  deps: ProxyDeps,
  session: GatewaySession,
  req: http.IncomingMessage,
  res: http.ServerResponse,
) {
  const url = new URL(req.url ?? '');
  const host = url.hostname.toLowerCase();
  const target = `${host}:${url.port || '80'}`;
  const decision =
    url.protocol === 'http:'
      ? await decide(deps, session, host, url.port || '80', target)
      : { reason: refusal(session, target) };
  const reason = 'reason' in decision ? decision.reason : undefined;
  await auditGateway(deps.db, session, { op: 'http', target: `${req.method} ${url.href}`, allowed: !reason, reason });
  if (!('address' in decision)) {
    res.writeHead(403, { 'content-type': 'text/plain' }).end(`arbiter gateway: ${reason}\n`);
    return;
  }
  const { host: _host, 'proxy-authorization': _auth, 'proxy-connection': _pc, ...headers } = req.headers;
  const out = http.request(
    {
      host: decision.address,
      port: url.port || 80,
      path: `${url.pathname}${url.search}`,
      method: req.method,
      headers: { ...headers, host: url.host },
    },
    (upstream) => {
      res.writeHead(upstream.statusCode ?? 502, upstream.headers);
      upstream.pipe(res);
    },
  );
  out.on('error', (err) =>
    res.headersSent ? res.destroy() : res.writeHead(502).end(`arbiter gateway: ${err.message}\n`),
  );
  req.pipe(out);
}
