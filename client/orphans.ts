/**
 * Servers `arbiter start` spawned outlive it when it is killed hard (SIGKILL, OOM). The next
 * start finds them by pid file and stops them, but only when the pid still belongs to the
 * expected program with the expected state path — never an unrelated process.
 */
import { existsSync, readFileSync } from 'node:fs';

function commandLine(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ');
  } catch {
    return undefined;
  }
}

/** True while a process with this pid exists. */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * Stops the process named by the first line of `pidFile` if its command line contains every
 * string in `mustContain`; resolves once it has exited (SIGKILL after `graceMs`).
 */
export async function reclaimOrphan(options: {
  pidFile: string;
  mustContain: string[];
  signal: NodeJS.Signals;
  say: (line: string) => void;
  graceMs?: number;
}): Promise<void> {
  if (!existsSync(options.pidFile)) return;
  const pid = Number(readFileSync(options.pidFile, 'utf8').split('\n')[0].trim());
  if (!Number.isInteger(pid) || pid <= 1 || pid === process.pid) return;
  const cmd = commandLine(pid);
  if (!cmd || !options.mustContain.every((s) => cmd.includes(s))) return;
  options.say(`stopping ${cmd.split(' ')[0]} (pid ${pid}) left running by an earlier \`arbiter start\``);
  process.kill(pid, options.signal);
  const deadline = Date.now() + (options.graceMs ?? 20_000);
  while (processAlive(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  if (processAlive(pid)) process.kill(pid, 'SIGKILL');
}
