/**
 * The sandbox's end of the model gateway, run by the sandbox's own node as the agent's parent:
 * it listens on a loopback port inside the sandbox's empty network namespace, carries every
 * connection to the worker over the inherited socket on fd 4, writes the agent's HOME files,
 * then runs the agent and exits with its status. Node built-ins only (only this directory is
 * mounted); what it runs comes in ARBITER_LAUNCH, which the agent does not inherit.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import * as net from 'node:net';
import { constants } from 'node:os';
import * as path from 'node:path';
import { dataFrames, encodeFrame, FRAME, FrameReader } from './mux';

interface Launch {
  port: number;
  home: string;
  homeFiles: Record<string, string>;
  argv: string[];
}

const launch = JSON.parse(process.env.ARBITER_LAUNCH ?? '{}') as Launch;
const { ARBITER_LAUNCH: _launch, ...agentEnv } = process.env;

const host = new net.Socket({ fd: 4, readable: true, writable: true });
const conns = new Map<number, net.Socket>();
let nextId = 1;

const reader = new FrameReader((type, id, payload) => {
  const conn = conns.get(id);
  if (!conn) return;
  if (type === FRAME.data) conn.write(payload);
  else if (type === FRAME.close) {
    conns.delete(id);
    conn.end();
  }
});
host.on('data', (chunk: Buffer) => reader.push(chunk));
host.on('error', () => undefined);

const server = net.createServer((conn) => {
  const id = nextId++;
  conns.set(id, conn);
  host.write(encodeFrame(FRAME.open, id));
  conn.on('data', (chunk: Buffer) => dataFrames(id, chunk).forEach((f) => host.write(f)));
  conn.on('error', () => undefined);
  conn.on('close', () => {
    if (conns.delete(id)) host.write(encodeFrame(FRAME.close, id));
  });
});

function writeHomeFiles(): void {
  for (const [rel, content] of Object.entries(launch.homeFiles ?? {})) {
    const file = path.resolve(launch.home, rel);
    if (!file.startsWith(`${launch.home}/`)) throw new Error(`home file ${rel} is outside HOME`);
    mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
    writeFileSync(file, content, { mode: 0o600 });
  }
}

server.listen(launch.port, '127.0.0.1', () => {
  mkdirSync(launch.home, { recursive: true, mode: 0o700 });
  writeHomeFiles();
  const child = spawn(launch.argv[0], launch.argv.slice(1), { stdio: 'inherit', env: agentEnv });
  child.on('error', (err) => {
    process.stderr.write(`arbiter relay: cannot start ${launch.argv[0]}: ${err.message}\n`);
    process.exit(127);
  });
  child.on('exit', (code, signal) => process.exit(code ?? 128 + (signal ? constants.signals[signal] : 1)));
});
