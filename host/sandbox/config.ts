/**
 * How commands are confined on this worker and how much a task may consume. Built once by the
 * worker from its environment; tests pass their own.
 */
import { z } from 'zod';

/** Resource limits applied to every sandboxed command and file-tool write. */
export interface SandboxLimits {
  /** Private writable memory per process (RLIMIT_DATA); not RLIMIT_AS, which refuses the large empty reservations WebAssembly and JIT runtimes make. */
  memoryBytes: number;
  /** All of a command's processes together, shared memory and its tmpfs included, where a memory cgroup holds it. */
  commandMemoryBytes: number;
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
  /**
   * Nor hold more files, folders and links than this: an empty file costs no data block, so a byte
   * quota alone let a task spend the host disk's inodes, which every task shares.
   */
  workspaceEntries: number;
  /** Size of the private /tmp (tmpfs). */
  tmpBytes: number;
  /** Largest file a file tool writes. */
  toolFileBytes: number;
  /** Total bytes the file tools write for one task. */
  toolTaskBytes: number;
}

/** An inclusive range of uids (each used as the gid too). */
export interface UidRange {
  first: number;
  last: number;
}

/** The sandbox as configured. */
export interface SandboxConfig {
  /** `bwrap` confines; `unsafe-none` runs commands unconfined, for development only, logged on every use. */
  mode: 'bwrap' | 'unsafe-none';
  /**
   * Unprivileged uids commands run as when the worker is root, one leased to each task while it holds its
   * workspace: the process limit only holds for non-root, and counts per uid, so a shared uid would let one
   * task's fork bomb starve the others (and let tasks signal each other and read each other's files).
   */
  uids: UidRange;
  limits: SandboxLimits;
}

const MiB = 1024 * 1024;

/** Defaults: generous for builds and test suites, small enough that a runaway is stopped. */
export const DEFAULT_SANDBOX_CONFIG: SandboxConfig = {
  mode: 'bwrap',
  uids: { first: 1_900_000_000, last: 1_900_000_999 },
  limits: {
    memoryBytes: 4096 * MiB,
    commandMemoryBytes: 8192 * MiB,
    processes: 256,
    fileBytes: 256 * MiB,
    cpuSeconds: 600,
    outputBytes: 1 * MiB,
    workspaceBytes: 2048 * MiB,
    workspaceEntries: 1_000_000,
    tmpBytes: 256 * MiB,
    toolFileBytes: 1 * MiB,
    toolTaskBytes: 50 * MiB,
  },
};

/** True when this process runs as root (commands then drop to the sandbox user). */
export function runningAsRoot(): boolean {
  return process.getuid?.() === 0;
}

/**
 * `START-END`. The default lies clear of real users, nobody (65534), the usual /etc/subuid allocations (100000 in
 * blocks of 65536) and systemd's container ranges (up to 1879048191), below 2^31; a directory service that hands out
 * ids up there must not overlap it.
 */
const UidRangeSchema = z
  .string()
  .regex(/^\d+-\d+$/, 'expected START-END, e.g. 1900000000-1900000999')
  .transform((s): UidRange => {
    const [first, last] = s.split('-').map(Number);
    return { first, last };
  })
  .refine((r) => r.first >= 1000 && r.first <= r.last && r.last < 2 ** 31, 'needs 1000 <= START <= END < 2147483648');

/** Refused rather than ignored: a variable that used to pick the sandbox user must not silently stop doing so. */
const replacedByRange = z
  .undefined({ invalid_type_error: 'replaced by ARBITER_SANDBOX_UID_RANGE (one uid per task); unset it' })
  .optional();

/** The sandbox's and workspaces' environment variables, parsed by each process's config module. */
export const SandboxEnvSchema = z.object({
  ARBITER_SANDBOX: z.enum(['bwrap', 'unsafe-none']).default('bwrap'),
  ARBITER_SANDBOX_UID_RANGE: UidRangeSchema.default('1900000000-1900000999'),
  ARBITER_SANDBOX_UID: replacedByRange,
  ARBITER_SANDBOX_GID: replacedByRange,
  ARBITER_COMMAND_MEMORY_MB: z.coerce.number().int().min(64).optional(),
  ARBITER_COMMAND_TOTAL_MEMORY_MB: z.coerce.number().int().min(64).optional(),
  ARBITER_COMMAND_CPU_SECONDS: z.coerce.number().int().min(1).optional(),
  ARBITER_WORKSPACE_MAX_ENTRIES: z.coerce.number().int().min(1000).optional(),
  /** Hours a workspace of a task that did not complete is kept for inspection (a completed one's emptied root too). */
  ARBITER_WORKSPACE_RETENTION_HOURS: z.coerce.number().min(0).default(24),
});

/** The configuration the parsed variables describe (defaults for what they leave out). */
export function sandboxConfigFromEnv(e: z.output<typeof SandboxEnvSchema>): SandboxConfig {
  const limits = { ...DEFAULT_SANDBOX_CONFIG.limits };
  if (e.ARBITER_COMMAND_MEMORY_MB) limits.memoryBytes = e.ARBITER_COMMAND_MEMORY_MB * MiB;
  if (e.ARBITER_COMMAND_TOTAL_MEMORY_MB) limits.commandMemoryBytes = e.ARBITER_COMMAND_TOTAL_MEMORY_MB * MiB;
  if (e.ARBITER_COMMAND_CPU_SECONDS) limits.cpuSeconds = e.ARBITER_COMMAND_CPU_SECONDS;
  if (e.ARBITER_WORKSPACE_MAX_ENTRIES) limits.workspaceEntries = e.ARBITER_WORKSPACE_MAX_ENTRIES;
  return { mode: e.ARBITER_SANDBOX, uids: e.ARBITER_SANDBOX_UID_RANGE, limits };
}
