/**
 * How commands are confined on this worker and how much a task may consume. Built once by the
 * worker from its environment; tests pass their own.
 */
import { z } from 'zod';

/** Resource limits applied to every sandboxed command and file-tool write. */
export interface SandboxLimits {
  /** Private writable memory per process (RLIMIT_DATA); not RLIMIT_AS, which refuses the large empty reservations WebAssembly and JIT runtimes make. */
  memoryBytes: number;
  /** Processes of the sandbox user (RLIMIT_NPROC): stops fork bombs. */
  processes: number;
  /** Largest file a command may write (RLIMIT_FSIZE). */
  fileBytes: number;
  /** CPU seconds per process (RLIMIT_CPU). */
  cpuSeconds: number;
  /** stdout+stderr kept per command; more kills the command. */
  outputBytes: number;
  /** The workspace may not grow past this while a command runs. */
  workspaceBytes: number;
  /** Size of the private /tmp (tmpfs). */
  tmpBytes: number;
  /** Largest file a file tool writes. */
  toolFileBytes: number;
  /** Total bytes the file tools write for one task. */
  toolTaskBytes: number;
}

/** The sandbox as configured. */
export interface SandboxConfig {
  /** `bwrap` confines; `unsafe-none` runs commands unconfined, for development only, logged on every use. */
  mode: 'bwrap' | 'unsafe-none';
  /** Unprivileged user commands run as when the worker is root (the process limit only holds for non-root). */
  uid: number;
  gid: number;
  limits: SandboxLimits;
}

const MiB = 1024 * 1024;

/** Defaults: generous for builds and test suites, small enough that a runaway is stopped. */
export const DEFAULT_SANDBOX_CONFIG: SandboxConfig = {
  mode: 'bwrap',
  uid: 65534,
  gid: 65534,
  limits: {
    memoryBytes: 4096 * MiB,
    processes: 256,
    fileBytes: 256 * MiB,
    cpuSeconds: 600,
    outputBytes: 1 * MiB,
    workspaceBytes: 2048 * MiB,
    tmpBytes: 256 * MiB,
    toolFileBytes: 1 * MiB,
    toolTaskBytes: 50 * MiB,
  },
};

/** True when this process runs as root (commands then drop to the sandbox user). */
export function runningAsRoot(): boolean {
  return process.getuid?.() === 0;
}

/** The sandbox's and workspaces' environment variables, parsed by each process's config module. */
export const SandboxEnvSchema = z.object({
  ARBITER_SANDBOX: z.enum(['bwrap', 'unsafe-none']).default('bwrap'),
  ARBITER_SANDBOX_UID: z.coerce.number().int().min(1).default(65534),
  ARBITER_SANDBOX_GID: z.coerce.number().int().min(1).default(65534),
  ARBITER_COMMAND_MEMORY_MB: z.coerce.number().int().min(64).optional(),
  ARBITER_COMMAND_CPU_SECONDS: z.coerce.number().int().min(1).optional(),
  /** Hours a workspace of a task that did not complete is kept for inspection. */
  ARBITER_WORKSPACE_RETENTION_HOURS: z.coerce.number().min(0).default(24),
});

/** The configuration the parsed variables describe (defaults for what they leave out). */
export function sandboxConfigFromEnv(e: z.output<typeof SandboxEnvSchema>): SandboxConfig {
  const limits = { ...DEFAULT_SANDBOX_CONFIG.limits };
  if (e.ARBITER_COMMAND_MEMORY_MB) limits.memoryBytes = e.ARBITER_COMMAND_MEMORY_MB * MiB;
  if (e.ARBITER_COMMAND_CPU_SECONDS) limits.cpuSeconds = e.ARBITER_COMMAND_CPU_SECONDS;
  return { mode: e.ARBITER_SANDBOX, uid: e.ARBITER_SANDBOX_UID, gid: e.ARBITER_SANDBOX_GID, limits };
}
