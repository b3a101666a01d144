/**
 * What the sandbox's seccomp filter refuses, as data: each rule names system calls, says why
 * they are refused and with which errno, and optionally refuses only when the first argument
 * matches. Modelled on Docker's default profile (what it denies to a container without extra
 * capabilities), written as a deny list: everything not named here is allowed. The numbers are
 * the kernel's for x86_64 and aarch64 (checked against the system headers by the unit test);
 * a call an architecture does not have is simply absent for it. `seccomp.ts` compiles this
 * table into the BPF program bwrap loads.
 */

/** Errno values the filter returns (the same on x86_64 and aarch64). */
export const ERRNO = { EPERM: 1, ENOSYS: 38, EOPNOTSUPP: 95 } as const;

/** The architectures the filter knows; every other one (i386, x32, …) is killed. */
export type Arch = 'x86_64' | 'aarch64';

/** Syscall numbers per architecture. */
export const SYSCALLS = {
  keyctl: { x86_64: 250, aarch64: 219 },
  add_key: { x86_64: 248, aarch64: 217 },
  request_key: { x86_64: 249, aarch64: 218 },
  bpf: { x86_64: 321, aarch64: 280 },
  perf_event_open: { x86_64: 298, aarch64: 241 },
  userfaultfd: { x86_64: 323, aarch64: 282 },
  io_uring_setup: { x86_64: 425, aarch64: 425 },
  io_uring_enter: { x86_64: 426, aarch64: 426 },
  io_uring_register: { x86_64: 427, aarch64: 427 },
  mount: { x86_64: 165, aarch64: 40 },
  umount2: { x86_64: 166, aarch64: 39 },
  pivot_root: { x86_64: 155, aarch64: 41 },
  open_tree: { x86_64: 428, aarch64: 428 },
  move_mount: { x86_64: 429, aarch64: 429 },
  fsopen: { x86_64: 430, aarch64: 430 },
  fsconfig: { x86_64: 431, aarch64: 431 },
  fsmount: { x86_64: 432, aarch64: 432 },
  fspick: { x86_64: 433, aarch64: 433 },
  mount_setattr: { x86_64: 442, aarch64: 442 },
  unshare: { x86_64: 272, aarch64: 97 },
  setns: { x86_64: 308, aarch64: 268 },
  clone: { x86_64: 56, aarch64: 220 },
  clone3: { x86_64: 435, aarch64: 435 },
  close_range: { x86_64: 436, aarch64: 436 },
  ptrace: { x86_64: 101, aarch64: 117 },
  process_vm_readv: { x86_64: 310, aarch64: 270 },
  process_vm_writev: { x86_64: 311, aarch64: 271 },
  process_madvise: { x86_64: 440, aarch64: 440 },
  kcmp: { x86_64: 312, aarch64: 272 },
  pidfd_getfd: { x86_64: 438, aarch64: 438 },
  kexec_load: { x86_64: 246, aarch64: 104 },
  kexec_file_load: { x86_64: 320, aarch64: 294 },
  init_module: { x86_64: 175, aarch64: 105 },
  finit_module: { x86_64: 313, aarch64: 273 },
  delete_module: { x86_64: 176, aarch64: 106 },
  create_module: { x86_64: 174 },
  get_kernel_syms: { x86_64: 177 },
  query_module: { x86_64: 178 },
  open_by_handle_at: { x86_64: 304, aarch64: 265 },
  name_to_handle_at: { x86_64: 303, aarch64: 264 },
  swapon: { x86_64: 167, aarch64: 224 },
  swapoff: { x86_64: 168, aarch64: 225 },
  reboot: { x86_64: 169, aarch64: 142 },
  acct: { x86_64: 163, aarch64: 89 },
  quotactl: { x86_64: 179, aarch64: 60 },
  quotactl_fd: { x86_64: 443, aarch64: 443 },
  lookup_dcookie: { x86_64: 212, aarch64: 18 },
  nfsservctl: { x86_64: 180, aarch64: 42 },
  _sysctl: { x86_64: 156 },
  ustat: { x86_64: 136 },
  sysfs: { x86_64: 139 },
  syslog: { x86_64: 103, aarch64: 116 },
  iopl: { x86_64: 172 },
  ioperm: { x86_64: 173 },
  uselib: { x86_64: 134 },
  personality: { x86_64: 135, aarch64: 92 },
  mbind: { x86_64: 237, aarch64: 235 },
  set_mempolicy: { x86_64: 238, aarch64: 237 },
  set_mempolicy_home_node: { x86_64: 450, aarch64: 450 },
  move_pages: { x86_64: 279, aarch64: 239 },
  migrate_pages: { x86_64: 256, aarch64: 238 },
  clock_settime: { x86_64: 227, aarch64: 112 },
  clock_adjtime: { x86_64: 305, aarch64: 266 },
  settimeofday: { x86_64: 164, aarch64: 170 },
  adjtimex: { x86_64: 159, aarch64: 171 },
  fanotify_init: { x86_64: 300, aarch64: 262 },
  socket: { x86_64: 41, aarch64: 198 },
  socketpair: { x86_64: 53, aarch64: 199 },
  fallocate: { x86_64: 285, aarch64: 47 },
} as const satisfies Record<string, Partial<Record<Arch, number>>>;

/** A system call the table knows. */
export type SyscallName = keyof typeof SYSCALLS;

/** A test of argument `arg`'s bits (0 if absent): any of `anyOf` set, or exactly `equals` under `mask`. */
export type BitTest = { arg?: number } & ({ anyOf: number } | { mask: number; equals: number });

/**
 * When a rule applies, judged on the low 32 bits of an argument (every such argument is an int or
 * flags): the first argument outside a list, or any of several bit tests.
 */
export type ArgCondition = { arg0NotIn: number[] } | { anyOf: BitTest[] };

/** One line of the deny list. */
export interface SyscallRule {
  names: SyscallName[];
  errno: number;
  /** Absent: always refused. */
  when?: ArgCondition;
  why: string;
}

/**
 * The socket families a command may open: IPv4 and IPv6 (the sandbox's network namespace reaches
 * nothing but the gateway it is handed) and netlink (interface lists, as glibc and Node read
 * them). Every other family is refused, `AF_UNIX` (1) included: `AF_VSOCK` (40) ignores network
 * namespaces and reaches a VM host's services, `AF_ALG` (38) was the way to a root exploit
 * (CVE-2026-31431), and the rest (packet, RDS, TIPC, Bluetooth, …) are kernel code no command needs.
 */
const SOCKET_FAMILIES_ALLOWED = [2, 10, 16];
/** CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET (Docker's mask). */
const CLONE_NAMESPACE_FLAGS = 0x7e020000;
const CLONE_THREAD = 0x10000;
const CLONE_FILES = 0x400;
const CLOSE_RANGE_UNSHARE = 0x2;
/** personality() values Docker allows: PER_LINUX, PER_LINUX32, UNAME26 with either, and the query 0xffffffff. */
const PERSONALITIES_ALLOWED = [0x0, 0x8, 0x20000, 0x20008, 0xffffffff];

/** The deny list, in the order the filter checks it. */
export const RULES: SyscallRule[] = [
  {
    names: ['keyctl', 'add_key', 'request_key'],
    errno: ERRNO.EPERM,
    why: 'the kernel keyring is not namespaced: keys could outlive the command or reach other users',
  },
  {
    names: ['bpf', 'perf_event_open', 'userfaultfd', 'io_uring_setup', 'io_uring_enter', 'io_uring_register'],
    errno: ERRNO.EPERM,
    why: 'large kernel attack surface a build or test suite does not need (libuv falls back from io_uring)',
  },
  {
    names: ['mount', 'umount2', 'pivot_root', 'open_tree', 'move_mount', 'fsopen', 'fsconfig', 'fsmount', 'fspick'],
    errno: ERRNO.EPERM,
    why: 'the mount layout bwrap built is final',
  },
  { names: ['mount_setattr'], errno: ERRNO.EPERM, why: 'no remounting what bwrap made read-only' },
  { names: ['unshare', 'setns'], errno: ERRNO.EPERM, why: 'no new or foreign namespaces' },
  {
    names: ['clone'],
    when: {
      anyOf: [{ anyOf: CLONE_NAMESPACE_FLAGS }, { mask: CLONE_THREAD | CLONE_FILES, equals: CLONE_THREAD }],
    },
    errno: ERRNO.EPERM,
    why:
      'clone may make threads and processes, not namespaces; a thread shares its process’s open files ' +
      '(pthreads, Go and musl always do): one with a table of its own hid files held open from the quota (found in review)',
  },
  {
    names: ['close_range'],
    when: { anyOf: [{ arg: 2, anyOf: CLOSE_RANGE_UNSHARE }] },
    errno: ERRNO.EPERM,
    why: 'a running thread could take a file table of its own, as clone without CLONE_FILES would (found in review)',
  },
  {
    names: ['clone3'],
    errno: ERRNO.ENOSYS,
    why: 'its flags sit behind a pointer the filter cannot read; ENOSYS makes glibc, Rust and others fall back to clone',
  },
  {
    names: ['ptrace', 'process_vm_readv', 'process_vm_writev', 'process_madvise', 'kcmp', 'pidfd_getfd'],
    errno: ERRNO.EPERM,
    why: "no reading or steering another process's memory or files",
  },
  {
    names: ['kexec_load', 'kexec_file_load', 'init_module', 'finit_module', 'delete_module'],
    errno: ERRNO.EPERM,
    why: 'no kernels or kernel modules',
  },
  { names: ['create_module', 'get_kernel_syms', 'query_module'], errno: ERRNO.EPERM, why: 'obsolete module calls' },
  {
    names: ['open_by_handle_at', 'name_to_handle_at'],
    errno: ERRNO.EPERM,
    why: 'file handles open files by inode, around the mount namespace (the "shocker" escape)',
  },
  {
    names: ['swapon', 'swapoff', 'reboot', 'acct', 'quotactl', 'quotactl_fd', 'syslog', 'fanotify_init'],
    errno: ERRNO.EPERM,
    why: 'host administration',
  },
  {
    names: ['lookup_dcookie', 'nfsservctl', '_sysctl', 'ustat', 'sysfs', 'uselib'],
    errno: ERRNO.EPERM,
    why: 'obsolete calls',
  },
  { names: ['iopl', 'ioperm'], errno: ERRNO.EPERM, why: 'no port I/O' },
  {
    names: ['clock_settime', 'clock_adjtime', 'settimeofday', 'adjtimex'],
    errno: ERRNO.EPERM,
    why: "the clock is the host's (adjtimex is refused outright, also for reading, as Docker does)",
  },
  {
    names: ['mbind', 'set_mempolicy', 'set_mempolicy_home_node', 'move_pages', 'migrate_pages'],
    errno: ERRNO.EPERM,
    why: "NUMA placement is the host's (Docker allows it only with CAP_SYS_NICE)",
  },
  {
    names: ['personality'],
    when: { arg0NotIn: PERSONALITIES_ALLOWED },
    errno: ERRNO.EPERM,
    why: 'no execution domains that turn off address-space randomisation or change the ABI',
  },
  {
    names: ['socket'],
    when: { arg0NotIn: SOCKET_FAMILIES_ALLOWED },
    errno: ERRNO.EPERM,
    why: 'only inet, inet6 and netlink sockets: no new unix socket (a command talks only over those Arbiter hands it; socketpair and inherited sockets work), no vsock, no AF_ALG',
  },
  {
    names: ['socketpair'],
    when: { arg0NotIn: [1] },
    errno: ERRNO.EPERM,
    why: 'socket pairs of AF_UNIX only: another family reaches kernel code (and may load its module) as socket() would',
  },
  {
    names: ['fallocate'],
    errno: ERRNO.EOPNOTSUPP,
    why: 'reserves disk without growing a file, past RLIMIT_FSIZE and the quota; EOPNOTSUPP makes posix_fallocate write bytes instead',
  },
];
