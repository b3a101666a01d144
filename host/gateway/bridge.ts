/**
 * The worker's end of one sandboxed command's gateway link: a connected Unix socket whose other
 * end the command inherits as fd 4, and which opens one connection to the gateway per
 * connection the relay carries. Every connection it opens announces the session the bridge was
 * made for, so what the sandbox sends can only ever be judged as that session's.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { dataFrames, encodeFrame, FRAME, FrameReader } from './inside/mux';
import { sessionPreamble } from './preamble';

/** Why a cap: a sandbox must not make the worker hold thousands of open sockets. */
const MAX_CONNECTIONS = 64;

/** One command's link to the gateway. */
export interface GatewayBridge {
  /** The end to hand to the command as fd 4 (close it here once the command has it). */
  childEnd: net.Socket;
  close(): void;
}

/** A connected pair of Unix sockets (Node has no socketpair): listen once, connect, accept. */
async function socketPair(): Promise<[net.Socket, net.Socket]> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'arbiter-bridge-'));
  const file = path.join(dir, 's');
  const server = net.createServer();
  try {
    await new Promise<void>((resolve, reject) => server.once('error', reject).listen(file, resolve));
    const accepted = new Promise<net.Socket>((resolve) => server.once('connection', resolve));
    const client = net.connect(file);
    await new Promise<void>((resolve, reject) => client.once('connect', resolve).once('error', reject));
    return [await accepted, client];
  } finally {
    server.close();
    await rm(dir, { recursive: true, force: true });
  }
}

/** Opens a bridge that carries the relay's connections to `gatewaySocket` as `sessionId`. */
export async function openGatewayBridge(gatewaySocket: string, sessionId: string): Promise<GatewayBridge> {
  const [ours, childEnd] = await socketPair();
  const conns = new Map<number, net.Socket>();
  const send = (frame: Buffer) => ours.writable && ours.write(frame);
  const open = (id: number) => {
    if (conns.has(id) || conns.size >= MAX_CONNECTIONS) return send(encodeFrame(FRAME.close, id));
    const conn = net.connect(gatewaySocket);
    conns.set(id, conn);
    conn.write(sessionPreamble(sessionId));
    conn.on('data', (chunk: Buffer) => dataFrames(id, chunk).forEach(send));
    conn.on('error', () => undefined);
    conn.on('close', () => {
      if (conns.delete(id)) send(encodeFrame(FRAME.close, id));
    });
  };
  const reader = new FrameReader((type, id, payload) => {
    if (type === FRAME.open) open(id);
    else if (type === FRAME.data) conns.get(id)?.write(payload);
    else {
      const conn = conns.get(id);
      conns.delete(id);
      conn?.end();
    }
  });
  const close = () => {
    for (const conn of conns.values()) conn.destroy();
    conns.clear();
    ours.destroy();
  };
  ours.on('data', (chunk: Buffer) => {
    try {
      reader.push(chunk);
    } catch {
      close(); // a relay that speaks nonsense loses its link, not the worker
    }
  });
  ours.on('error', () => undefined);
  ours.on('close', close);
  return { childEnd, close };
}
