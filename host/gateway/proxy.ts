/**
 * The gateway as the sandbox's HTTP proxy (HTTP_PROXY and HTTPS_PROXY point at the relay):
 * tunnels and plain requests reach only the registries the session grants (a policy's setup),
 * and every attempt, allowed or refused, is audited with its target. An agent's session grants
 * none, so whatever an agent tries to reach this way is refused and shows in the record.
 */
import * as http from 'node:http';
import * as net from 'node:net';
import type { Duplex } from 'node:stream';
import type { Db } from '../../db/client';
import { auditGateway } from './audit';
import type { GatewaySession } from './session';

function refusal(session: GatewaySession, target: string): string {
  return session.grant.registries.length
    ? `${target} is not one of the registries this run may reach (${session.grant.registries.join(', ')})`
    : `${target} is not reachable from the sandbox: only the model gateway is`;
}

/** Handles `CONNECT host:port`. */
export async function proxyConnect(db: Db, session: GatewaySession, req: http.IncomingMessage, client: Duplex) {
  const target = (req.url ?? '').toLowerCase();
  const [host, port] = target.split(':');
  const allowed = Boolean(host && port) && session.allowsRegistry(target);
  const reason = allowed ? undefined : refusal(session, target);
  await auditGateway(db, session, { op: 'connect', target, allowed, reason });
  if (!allowed) {
    client.end(`HTTP/1.1 403 Forbidden\r\ncontent-type: text/plain\r\n\r\narbiter gateway: ${reason}\n`);
    return;
  }
  const upstream = net.connect(Number(port), host, () => {
    client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
    upstream.pipe(client);
    client.pipe(upstream);
  });
  upstream.on('error', () => client.destroy());
  client.on('error', () => upstream.destroy());
}

/** Handles a plain `GET http://host/…` sent to the proxy. */
export async function proxyPlain(db: Db, session: GatewaySession, req: http.IncomingMessage, res: http.ServerResponse) {
  const url = new URL(req.url ?? '');
  const target = `${url.hostname.toLowerCase()}:${url.port || '80'}`;
  const allowed = url.protocol === 'http:' && session.allowsRegistry(target);
  const reason = allowed ? undefined : refusal(session, target);
  await auditGateway(db, session, { op: 'http', target: `${req.method} ${url.href}`, allowed, reason });
  if (!allowed) {
    res.writeHead(403, { 'content-type': 'text/plain' }).end(`arbiter gateway: ${reason}\n`);
    return;
  }
  const { host: _host, 'proxy-authorization': _auth, 'proxy-connection': _pc, ...headers } = req.headers;
  const out = http.request(url, { method: req.method, headers }, (upstream) => {
    res.writeHead(upstream.statusCode ?? 502, upstream.headers);
    upstream.pipe(res);
  });
  out.on('error', (err) => res.writeHead(502).end(`arbiter gateway: ${err.message}\n`));
  req.pipe(out);
}
