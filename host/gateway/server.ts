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
import { readBody, responseSink } from './http-io';
import { recordUnrecordedRefusals } from './audit';
import { MAX_PREAMBLE, parsePreamble } from './preamble';
import { proxyConnect, proxyPlain, type ProxyDeps } from './proxy';
import { GatewaySession, MAX_CALLS_IN_FLIGHT, type SessionGrant, type SessionIdentity } from './session';
import { SANDBOX_GATEWAY_PORT } from './launch';
import { keylessUpstreamRefusal } from './worker-network';

/** The running gateway. */
export interface ModelGateway {
  readonly socketPath: string;
  /** Opens a session; what the same run's agent spent before counts against its budgets. */
  openSession(identity: SessionIdentity, grant: SessionGrant): Promise<GatewaySession>;
  session(id: string): GatewaySession | undefined;
  /** Closes a session once its calls in flight have ended and been recorded. */
  closeSession(id: string): Promise<void>;
  /** A model call made in-process with the session's own token (Arbiter's openai loop). */
  call(session: GatewaySession, req: Omit<ModelRequest, 'headers'>): Promise<{ status: number; body: Buffer }>;
  /** Why this worker's gateway would not reach a key-less `upstream` (on the worker's network, unlisted), known before a run starts. */
  networkRefusal(upstream: { apiKeyEnv?: string; baseUrl: string }): Promise<string | undefined>;
  close(): Promise<void>;
}

/**
 * Largest model reply Arbiter's own loop reads: the reply is parsed on the worker's main
 * thread, and a model (or whatever answers at its URL) chooses its size.
 */
export const MAX_IN_PROCESS_REPLY_BYTES = 8 * 1024 * 1024;

/**
 * Collects a reply in memory, up to {@link MAX_IN_PROCESS_REPLY_BYTES}. A longer one is dropped
 * and answered 413: asking the same model again would pay for the same reply.
 */
function bufferSink(): ResponseSink & { result(): { status: number; body: Buffer } } {
  let status = 0;
  let size = 0;
  const chunks: Buffer[] = [];
  return {
    start: (s) => void (status = s),
    write: (c) => {
      size += c.length;
      if (size <= MAX_IN_PROCESS_REPLY_BYTES) chunks.push(Buffer.from(c));
      else chunks.length = 0;
    },
    end: () => undefined,
    result: () =>
      size > MAX_IN_PROCESS_REPLY_BYTES
        ? { status: 413, body: Buffer.from(`model reply larger than ${MAX_IN_PROCESS_REPLY_BYTES} bytes; not read`) }
        : { status, body: Buffer.concat(chunks) },
  };
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
  // Not decoded: upstream names need no escapes, and a decoded one would carry control characters into the audit.
  const m = /^\/u\/([^/]+)\/(.*)$/.exec(pathname);
  return m ? { upstream: m[1], rest: m[2] } : undefined;
}

/** Starts the gateway. */
export async function startModelGateway(deps: ModelCallDeps & ProxyDeps): Promise<ModelGateway> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'arbiter-gateway-'));
  const socketPath = path.join(dir, 'gateway.sock');
  const sessions = new Map<string, GatewaySession>();
  const sessionOf = new WeakMap<net.Socket, GatewaySession>();
  const closeAndAccount = async (session: GatewaySession, reason: string) => {
    await session.close(reason);
    await recordUnrecordedRefusals(deps.db, session);
  };

  const handle = async (req: http.IncomingMessage, res: http.ServerResponse) => {
    const session = sessionOf.get(req.socket);
    if (!session) return void res.writeHead(403).end();
    const target = modelPath(req.url ?? '/');
    if (!target && /^http:\/\//i.test(req.url ?? '')) return proxyPlain(deps, session, req, res);
    const sink = responseSink(res, session.closing);
    if (!target)
      return refuse(deps, session, sink, 404, {
        op: 'model',
        target: req.url ?? '/',
        reason: 'not a gateway path: model calls go to /u/<upstream>/…',
      });
    const call = session.admit(async () => {
      const read = await readBody(req, session);
      if ('refused' in read)
        return refuse(deps, session, sink, read.again ? 429 : 413, {
          op: 'model',
          target: req.url ?? '/',
          reason: read.refused,
        });
      try {
        const { body } = read;
        await forwardModelCall(
          deps,
          session,
          { method: req.method ?? 'GET', ...target, headers: req.headers, body },
          sink,
        );
      } finally {
        session.releaseBytes(read.held);
      }
    });
    if (!call)
      return refuse(deps, session, sink, 429, {
        op: 'model',
        target: req.url ?? '/',
        reason: `more than ${MAX_CALLS_IN_FLIGHT} calls at once`,
      });
    await call;
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
    proxyConnect(deps, session, req, client).catch(() => client.destroy());
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
    async closeSession(id) {
      const session = sessions.get(id);
      sessions.delete(id);
      if (session) await closeAndAccount(session, 'session closed');
    },
    async call(session, req) {
      const sink = bufferSink();
      const headers = { authorization: `Bearer ${session.token}`, 'content-type': 'application/json' };
      await forwardModelCall(deps, session, { ...req, headers }, sink);
      return sink.result();
    },
    networkRefusal: async (upstream) =>
      upstream.apiKeyEnv ? undefined : keylessUpstreamRefusal(upstream.baseUrl, deps.privateUpstreams),
    async close() {
      const live = [...sessions.values()];
      sessions.clear();
      await Promise.all(live.map((session) => closeAndAccount(session, 'gateway closed')));
      for (const socket of open) socket.destroy();
      httpServer.closeAllConnections();
      await new Promise<void>((resolve) => front.close(() => resolve()));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
