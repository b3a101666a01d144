/**
 * The model gateway: one per worker process, listening on a Unix socket only the worker can
 * reach. Each sandboxed command's bridge connects to it announcing the session the worker
 * opened for that command; the gateway then serves model calls (`/u/<upstream>/…`) and proxy
 * requests for that session alone. Sessions live in memory; what they did lives in PostgreSQL.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { spentByRun } from '../../db/model-calls';
import { forwardModelCall, refuse, type ModelCallDeps, type ModelRequest, type ResponseSink } from './model-call';
import { MAX_PREAMBLE, parsePreamble } from './preamble';
import { proxyConnect, proxyPlain } from './proxy';
import { GatewaySession, type SessionGrant, type SessionIdentity } from './session';
import { SANDBOX_GATEWAY_PORT } from './launch';

/** Largest request body the gateway reads (a long conversation with its tool results). */
const MAX_REQUEST_BYTES = 32 * 1024 * 1024;

/** The running gateway. */
export interface ModelGateway {
  readonly socketPath: string;
  /** Opens a session; what the same run's agent spent before counts against its budgets. */
  openSession(identity: SessionIdentity, grant: SessionGrant): Promise<GatewaySession>;
  session(id: string): GatewaySession | undefined;
  closeSession(id: string): void;
  /** A model call made in-process with the session's own token (Arbiter's openai loop). */
  call(session: GatewaySession, req: Omit<ModelRequest, 'headers'>): Promise<{ status: number; body: Buffer }>;
  close(): Promise<void>;
}

function bufferSink(): ResponseSink & { result(): { status: number; body: Buffer } } {
  let status = 0;
  const chunks: Buffer[] = [];
  return {
    start: (s) => void (status = s),
    write: (c) => void chunks.push(Buffer.from(c)),
    end: () => undefined,
    result: () => ({ status, body: Buffer.concat(chunks) }),
  };
}

function responseSink(res: http.ServerResponse): ResponseSink {
  return {
    start: (status, headers) => void res.writeHead(status, headers),
    write: (chunk) => void res.write(chunk),
    end: () => void res.end(),
  };
}

async function readBody(req: http.IncomingMessage): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of req) {
    total += (chunk as Buffer).length;
    if (total > MAX_REQUEST_BYTES) return undefined;
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

/** `/u/<upstream>/<rest>` of a request, whether sent to the relay directly or through it as a proxy. */
function modelPath(url: string): { upstream: string; rest: string } | undefined {
  let pathname = url;
  if (/^https?:\/\//i.test(url)) {
    const u = new URL(url);
    const self = ['127.0.0.1', 'localhost'].includes(u.hostname) && u.port === String(SANDBOX_GATEWAY_PORT);
    if (!self) return undefined;
    pathname = `${u.pathname}${u.search}`;
  }
  const m = /^\/u\/([^/]+)\/(.*)$/.exec(pathname);
  return m ? { upstream: decodeURIComponent(m[1]), rest: m[2] } : undefined;
}

/** Starts the gateway. */
export async function startModelGateway(deps: ModelCallDeps): Promise<ModelGateway> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'arbiter-gateway-'));
  const socketPath = path.join(dir, 'gateway.sock');
  const sessions = new Map<string, GatewaySession>();
  const sessionOf = new WeakMap<net.Socket, GatewaySession>();

  const handle = async (req: http.IncomingMessage, res: http.ServerResponse) => {
    const session = sessionOf.get(req.socket);
    if (!session) return void res.writeHead(403).end();
    const target = modelPath(req.url ?? '/');
    if (!target && /^http:\/\//i.test(req.url ?? '')) return proxyPlain(deps.db, session, req, res);
    const sink = responseSink(res);
    if (!target)
      return refuse(deps, session, sink, 404, {
        op: 'model',
        target: req.url ?? '/',
        reason: 'not a gateway path: model calls go to /u/<upstream>/…',
      });
    const body = await readBody(req);
    if (!body)
      return refuse(deps, session, sink, 413, {
        op: 'model',
        target: req.url ?? '/',
        reason: 'request body too large',
      });
    const abort = new AbortController();
    res.on('close', () => abort.abort());
    await forwardModelCall(
      deps,
      session,
      { method: req.method ?? 'GET', ...target, headers: req.headers, body, signal: abort.signal },
      sink,
    );
  };

  const httpServer = http.createServer((req, res) => {
    handle(req, res).catch((err: Error) => {
      if (!res.headersSent) res.writeHead(500);
      res.end(`arbiter gateway: ${err.message}\n`);
    });
  });
  httpServer.on('connect', (req: http.IncomingMessage, client: net.Socket, head: Buffer) => {
    const session = sessionOf.get(req.socket);
    if (!session) return void client.destroy();
    if (head.length) client.unshift(head);
    proxyConnect(deps.db, session, req, client).catch(() => client.destroy());
  });

  // The preamble names the session; the rest of the connection is plain HTTP for that session.
  const open = new Set<net.Socket>();
  const front = net.createServer((socket) => {
    open.add(socket);
    socket.on('close', () => open.delete(socket));
    let seen = Buffer.alloc(0);
    const onReadable = () => {
      let chunk: Buffer | null;
      while ((chunk = socket.read() as Buffer | null) !== null) {
        seen = Buffer.concat([seen, chunk]);
        const newline = seen.indexOf(0x0a);
        if (newline < 0 && seen.length <= MAX_PREAMBLE) continue;
        socket.removeListener('readable', onReadable);
        const session =
          newline >= 0 ? sessions.get(parsePreamble(seen.subarray(0, newline).toString()) ?? '') : undefined;
        if (!session) return void socket.destroy();
        sessionOf.set(socket, session);
        socket.unshift(seen.subarray(newline + 1));
        httpServer.emit('connection', socket);
        return;
      }
    };
    socket.on('readable', onReadable);
    socket.on('error', () => undefined);
  });
  await new Promise<void>((resolve, reject) => front.once('error', reject).listen(socketPath, resolve));
  front.unref(); // a worker that stops must not be kept alive by its gateway

  return {
    socketPath,
    async openSession(identity, grant) {
      const spent = await spentByRun(deps.db, identity);
      const session = new GatewaySession(identity, grant, spent);
      sessions.set(session.id, session);
      return session;
    },
    session: (id) => sessions.get(id),
    closeSession(id) {
      sessions.get(id)?.stop('session closed');
      sessions.delete(id);
    },
    async call(session, req) {
      const sink = bufferSink();
      const headers = { authorization: `Bearer ${session.token}`, 'content-type': 'application/json' };
      await forwardModelCall(deps, session, { ...req, headers }, sink);
      return sink.result();
    },
    async close() {
      for (const session of sessions.values()) session.stop('gateway closed');
      for (const socket of open) socket.destroy();
      httpServer.closeAllConnections();
      await new Promise<void>((resolve) => front.close(() => resolve()));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
