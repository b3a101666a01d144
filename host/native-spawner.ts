/**
 * Short programs (git, du) started by `arbiter-spawn` (host/native/spawn-helper.c, compiled by
 * setup beside this file) instead of the worker itself. Starting a program forks the process
 * that starts it, and a fork copies the parent's page tables while blocking its event loop:
 * 9–33 ms per call in a worker of 0.5–0.8 GiB. A Node helper took that away but spent about
 * 1.3 ms of its own CPU on every program; this one spends under 0.1 ms. It is given the exact argv
 * and environment, so nothing about what runs changes. If it dies, the calls in flight fail
 * (their activities retry) and the next call starts a new one.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { constants } from 'node:os';
import * as path from 'node:path';

const HELPER = path.join(__dirname, 'arbiter-spawn');

/** Which limit of its request a program ran past, when it was stopped for one. */
export type Overrun = 'output' | 'time';

/** A failed run: the message, stderr, exit code and what it printed before, like `execFile`'s error. */
export class SpawnedProgramError extends Error {
  constructor(
    message: string,
    public readonly stderr: Buffer,
    public readonly code?: number,
    public readonly stdout: Buffer = Buffer.alloc(0),
    /** Set when it was stopped for running past its output or time limit. */
    public readonly overran?: Overrun,
  ) {
    super(message);
    this.name = 'SpawnedProgramError';
  }
}

/** Thrown when setup has not built the helper: nothing git does can run without it. */
export class SpawnHelperMissingError extends Error {
  constructor() {
    super(`${HELPER} is not built: run \`npm run setup\` (it needs a C compiler: apt-get install gcc)`);
    this.name = 'SpawnHelperMissingError';
  }
}

/** The compiled helper, when setup built it (`arbiter doctor` checks). */
export function spawnHelperPath(): string | undefined {
  return existsSync(HELPER) ? HELPER : undefined;
}

/** One program to run: argv, its whole environment, stdin and the limits. */
interface Request {
  id: number;
  argv: string[];
  env: Record<string, string>;
  input: Buffer;
  maxBuffer: number;
  timeoutMs: number;
}

const u32 = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n);
  return b;
};
const counted = (s: string) => {
  const bytes = Buffer.from(s, 'utf8');
  return [u32(bytes.length), bytes];
};

/** One request frame (its layout is the C file's header comment). */
function requestFrame({ id, argv, env, input, maxBuffer, timeoutMs }: Request): Buffer {
  const vars = Object.entries(env).map(([name, value]) => `${name}=${value}`);
  const body = Buffer.concat([
    ...[id, timeoutMs, maxBuffer, argv.length, vars.length, input.length].map(u32),
    ...argv.flatMap(counted),
    ...vars.flatMap(counted),
    input,
  ]);
  return Buffer.concat([u32(body.length), body]);
}

const signalNames = new Map(Object.entries(constants.signals).map(([name, n]) => [n, name]));
const errnoNames = new Map(Object.entries(constants.errno).map(([name, n]) => [n, name]));

/** The program's stdout, or the {@link SpawnedProgramError} its reply describes. */
function outcome(frame: Buffer, argv: string[]): Buffer {
  const [kind, value, overranCode, outLength] = [4, 8, 12, 16].map((at) => frame.readUInt32LE(at));
  const stdout = Buffer.from(frame.subarray(24, 24 + outLength));
  const stderr = Buffer.from(frame.subarray(24 + outLength));
  if (kind === 2) throw new SpawnedProgramError(`spawn ${argv[0]} ${errnoNames.get(value) ?? value}`, stderr);
  const overran: Overrun | undefined = overranCode === 1 ? 'output' : overranCode === 2 ? 'time' : undefined;
  if (kind === 0 && value === 0 && !overran) return stdout;
  const how = kind === 1 ? `killed by ${signalNames.get(value) ?? value}` : `exit code ${value}`;
  const message = `Command failed (${how}${overran ? `, past its ${overran} limit` : ''}): ${argv.join(' ')}\n${stderr}`;
  throw new SpawnedProgramError(message, stderr, kind === 0 ? value : undefined, stdout, overran);
}

interface Waiting {
  argv: string[];
  settle: (stdout: Buffer) => void;
  reject: (err: Error) => void;
}

let helper: ChildProcess | undefined;
const waiting = new Map<number, Waiting>();
let nextId = 0;

/** Keeps the process alive only while calls wait for their replies. */
function holdOpen(child: ChildProcess, hold: boolean): void {
  const handle = child.stdout as unknown as { ref(): void; unref(): void };
  if (hold) handle.ref();
  else handle.unref();
}

/** Splits the helper's stdout into reply frames; chunks are joined only once a frame is whole. */
function readReplies(child: ChildProcess, onFrame: (frame: Buffer) => void): void {
  let chunks: Buffer[] = [];
  let total = 0;
  child.stdout!.on('data', (chunk: Buffer) => {
    chunks.push(chunk);
    total += chunk.length;
    while (total >= 4) {
      if (chunks[0].length < 4) chunks = [Buffer.concat(chunks, total)];
      const end = 4 + chunks[0].readUInt32LE(0);
      if (total < end) return;
      const all = chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, total);
      chunks = all.length > end ? [all.subarray(end)] : [];
      total = all.length - end;
      onFrame(all.subarray(4, end));
    }
  });
}

function answer(frame: Buffer): void {
  const id = frame.readUInt32LE(0);
  const w = waiting.get(id);
  if (!w || !helper) return;
  waiting.delete(id);
  if (waiting.size === 0) holdOpen(helper, false);
  try {
    w.settle(outcome(frame, w.argv));
  } catch (err) {
    w.reject(err as Error);
  }
}

function failAll(child: ChildProcess, reason: string): void {
  if (child !== helper) return;
  for (const w of waiting.values()) w.reject(new SpawnedProgramError(reason, Buffer.alloc(0)));
  waiting.clear();
  helper = undefined;
}

function started(): ChildProcess {
  if (helper) return helper;
  if (!spawnHelperPath()) throw new SpawnHelperMissingError();
  const child = spawn(HELPER, [], { stdio: ['pipe', 'pipe', 'inherit'] });
  child.on('error', (err) => failAll(child, `the spawner process failed: ${err.message}`));
  // 'close', not 'exit': replies it wrote before it ended are read first.
  child.on('close', () => failAll(child, 'the spawner process ended'));
  child.stdin!.on('error', () => undefined);
  readReplies(child, answer);
  child.unref();
  (child.stdin as unknown as { unref(): void }).unref();
  holdOpen(child, false);
  helper = child;
  return child;
}

/** The helper's process id while it runs (the load benchmark counts its CPU time and its programs'). */
export function spawnHelperPid(): number | undefined {
  return helper?.pid;
}

/**
 * Runs `file` with `args` and exactly `env` in the helper: its stdout, or a {@link SpawnedProgramError}
 * (also for an argument or variable holding a NUL byte, which no program can be given).
 */
export async function spawnViaHelper(
  file: string,
  args: string[],
  options: { env: Record<string, string>; input?: string | Buffer; maxBuffer: number; timeoutMs?: number },
): Promise<Buffer> {
  const argv = [file, ...args];
  const env = options.env;
  if ([...argv, ...Object.keys(env), ...Object.values(env)].some((s) => s.includes('\0')))
    throw new SpawnedProgramError(`${file}: an argument or variable holds a NUL byte`, Buffer.alloc(0));
  const input = Buffer.from(options.input ?? '');
  const request = {
    id: nextId++ % 0x1_0000_0000,
    argv,
    env,
    input,
    maxBuffer: options.maxBuffer,
    timeoutMs: options.timeoutMs ?? 0,
  };
  const frame = requestFrame(request);
  const child = started();
  return new Promise((settle, reject) => {
    waiting.set(request.id, { argv, settle, reject });
    holdOpen(child, true);
    child.stdin!.write(frame);
  });
}
