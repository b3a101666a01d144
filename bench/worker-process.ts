/**
 * Starts one of the load benchmark's workers as its own process (bench/load-worker.ts) and
 * samples that process's resident memory, and its spawners', from /proc: the figure the
 * target is about is the worker's, not the benchmark's (which holds the client and its caches).
 */
import { fork, type ChildProcess } from 'node:child_process';
import * as path from 'node:path';
import type { BenchWorkerRole } from './load-worker';
import { rssBytes, rssHighWaterBytes, spawnersOf } from './proc';

/** A running worker process. */
export interface WorkerProcess {
  pid: number;
  /** The main thread's memory figures it last reported. */
  memory(): NodeJS.MemoryUsage | undefined;
  /** SIGTERM, then waits for it to drain and exit. */
  stop(): Promise<void>;
}

/**
 * Peak resident memory over a phase, in MiB: the worker's and its spawners' (together), and the
 * worker's main-thread V8 heap and external memory at the sample where its RSS peaked (the rest
 * is the workflow thread's heap, the SDK's native core and the code).
 */
export interface RssPeaks {
  workerMiB: number;
  spawnerMiB: number;
  heapMiB: number;
  externalMiB: number;
}

const toMiB = (bytes: number) => Math.round(bytes / 2 ** 20);

/** Resolves once the child says `ready`; rejects if it exits first. */
function ready(child: ChildProcess, role: BenchWorkerRole): Promise<void> {
  return new Promise((resolve, reject) => {
    const onExit = (code: number | null) =>
      reject(new Error(`the ${role} worker process exited (${code}) before ready`));
    child.once('exit', onExit);
    child.once('message', () => {
      child.off('exit', onExit);
      child.on('exit', (code) => code && console.error(`the ${role} worker process exited with ${code}`));
      resolve();
    });
  });
}

/** Starts the `role` worker with `env` added to this process's environment; resolves when it polls. */
export async function startWorkerProcess(role: BenchWorkerRole, env: Record<string, string>): Promise<WorkerProcess> {
  const nodeArgs = process.env.BENCH_WORKER_NODE_ARGS?.split(' ').filter(Boolean) ?? [];
  const child = fork(path.join(__dirname, 'load-worker.js'), [role], {
    env: { ...process.env, ...env },
    execArgv: nodeArgs,
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'], // stdout: the SDK core's console warnings, one per slow workflow task
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  await ready(child, role);
  let memory: NodeJS.MemoryUsage | undefined;
  child.on('message', (m: NodeJS.MemoryUsage) => (memory = m));
  return {
    pid: child.pid as number,
    memory: () => memory,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}

/**
 * Samples the RSS of `worker` and of its spawners (together) every 250 ms until stopped. The worker's
 * peak also counts the kernel's high-water mark, so a spike between two samples is not missed.
 */
export function rssSampler(worker: WorkerProcess): { stop(): RssPeaks } {
  let peak = rssBytes(worker.pid);
  let atPeak = worker.memory();
  let spawner = 0;
  const sample = () => {
    const rss = rssBytes(worker.pid);
    if (rss > peak) [peak, atPeak] = [rss, worker.memory()];
    spawner = Math.max(
      spawner,
      spawnersOf(worker.pid).reduce((sum, helper) => sum + rssBytes(helper), 0),
    );
  };
  const timer = setInterval(sample, 250);
  return {
    stop() {
      clearInterval(timer);
      sample();
      return {
        workerMiB: toMiB(Math.max(peak, rssHighWaterBytes(worker.pid))),
        spawnerMiB: toMiB(spawner),
        heapMiB: toMiB(atPeak?.heapTotal ?? 0),
        externalMiB: toMiB(atPeak?.external ?? 0),
      };
    },
  };
}
