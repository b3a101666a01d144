/**
 * A python3 program (ctypes, no compiler needed) that makes raw system calls and prints what each
 * returned, so the escape suite can make the same calls inside the sandbox and, as a control,
 * on the host as the same unprivileged user without bwrap and the filter: a call the filter
 * refuses shows EPERM (or its errno) inside and something else outside. Also the calls the suite
 * makes: what must be refused, what runs unprivileged without the filter, what stays allowed.
 */
import { arch } from 'node:os';
import { SYSCALLS, type Arch, type SyscallName } from '../../host/sandbox/seccomp-table';

/** One call: a label, the syscall, and its arguments (numbers, or strings passed as C strings). */
export interface Probe {
  label: string;
  name: SyscallName;
  args: Array<number | string>;
}

/** The host's architecture as the table names it (the suite runs on x86_64 or aarch64). */
export function hostArch(): Arch {
  if (arch() === 'x64') return 'x86_64';
  if (arch() === 'arm64') return 'aarch64';
  throw new Error(`no seccomp table for ${arch()}`);
}

const PROGRAM = `
import ctypes, json, sys
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
out = {}
for label, nr, args in json.loads(sys.argv[1]):
    cargs = [ctypes.c_char_p(a.encode()) if isinstance(a, str) else ctypes.c_long(a) for a in args]
    ctypes.set_errno(0)
    r = libc.syscall(ctypes.c_long(nr), *cargs)
    out[label] = 'ok' if r >= 0 else 'errno %d' % ctypes.get_errno()
print(json.dumps(out))
`;

/** argv that runs `probes` (those the host's architecture has) and prints `{label: 'ok' | 'errno N'}`. */
export function probeArgv(probes: Probe[]): string[] {
  const a = hostArch();
  const calls = probes.flatMap((p) => {
    const nr = (SYSCALLS[p.name] as Partial<Record<Arch, number>>)[a];
    return nr === undefined ? [] : [[p.label, nr, p.args]];
  });
  return ['/usr/bin/python3', '-c', PROGRAM, JSON.stringify(calls)];
}

/** argv of a python3 program that makes one x32-ABI call (getpid | 0x40000000). */
export const X32_CALL = ['/usr/bin/python3', '-c', 'import ctypes; ctypes.CDLL(None).syscall(0x40000000 | 39)'];

/** argv of a python3 program that makes one i386 call (`int 0x80`, getpid) from x86_64 code it maps. */
export const I386_CALL = [
  '/usr/bin/python3',
  '-c',
  [
    'import ctypes, mmap',
    'm = mmap.mmap(-1, 4096, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)',
    "m.write(b'\\xb8\\x14\\x00\\x00\\x00\\xcd\\x80\\xc3')  # mov eax, 20; int 0x80; ret",
    'print(ctypes.CFUNCTYPE(ctypes.c_int)(ctypes.addressof(ctypes.c_char.from_buffer(m)))())',
  ].join('\n'),
];

const EPERM = 'errno 1';
const NOWHERE_PID = 0x3fffffff;
const AT_FDCWD = -100;

/** Calls the deny list refuses, with arguments that are harmless when they do run. */
export const REFUSED: Array<Probe & { expect: string }> = [
  { label: 'keyctl', name: 'keyctl', args: [0, -3, 0], expect: EPERM },
  { label: 'add_key', name: 'add_key', args: ['user', 'arbiter-probe', 'x', 1, -2], expect: EPERM },
  { label: 'request_key', name: 'request_key', args: ['user', 'arbiter-none', 0, 0], expect: EPERM },
  { label: 'bpf', name: 'bpf', args: [0, 0, 0], expect: EPERM },
  { label: 'perf_event_open', name: 'perf_event_open', args: [0, 0, -1, -1, 0], expect: EPERM },
  { label: 'userfaultfd', name: 'userfaultfd', args: [1], expect: EPERM },
  { label: 'io_uring_setup', name: 'io_uring_setup', args: [1, 0], expect: EPERM },
  { label: 'io_uring_enter', name: 'io_uring_enter', args: [-1, 0, 0, 0, 0, 0], expect: EPERM },
  { label: 'mount', name: 'mount', args: [0, 0, 0, 0, 0], expect: EPERM },
  { label: 'umount2', name: 'umount2', args: ['/', 0xffff], expect: EPERM },
  { label: 'pivot_root', name: 'pivot_root', args: ['/', '/'], expect: EPERM },
  { label: 'open_tree', name: 'open_tree', args: [AT_FDCWD, '/', 0], expect: EPERM },
  { label: 'unshare(0)', name: 'unshare', args: [0], expect: EPERM },
  { label: 'unshare(CLONE_NEWUSER)', name: 'unshare', args: [0x10000000], expect: EPERM },
  { label: 'setns', name: 'setns', args: [-1, 0], expect: EPERM },
  { label: 'clone(CLONE_NEWUSER|CLONE_FS)', name: 'clone', args: [0x10000200, 0, 0, 0, 0], expect: EPERM },
  // A thread with a file table of its own hid held-open files from the quota. Alone, CLONE_THREAD
  // is EINVAL to the kernel (it needs CLONE_SIGHAND), so the unfiltered control makes no thread.
  { label: 'clone(CLONE_THREAD without CLONE_FILES)', name: 'clone', args: [0x10000, 0, 0, 0, 0], expect: EPERM },
  // Unsharing the table of a process of one thread changes nothing the quota reads: harmless outside.
  { label: 'close_range(CLOSE_RANGE_UNSHARE)', name: 'close_range', args: [1000, 1000, 2], expect: EPERM },
  { label: 'clone3', name: 'clone3', args: [0, 0], expect: 'errno 38' },
  { label: 'ptrace', name: 'ptrace', args: [2, NOWHERE_PID, 0, 0], expect: EPERM },
  { label: 'process_vm_readv', name: 'process_vm_readv', args: [1, 0, 0, 0, 0, 1], expect: EPERM },
  { label: 'kcmp', name: 'kcmp', args: [NOWHERE_PID, NOWHERE_PID, 0, 0, 0], expect: EPERM },
  { label: 'pidfd_getfd', name: 'pidfd_getfd', args: [-1, 0, 0], expect: EPERM },
  { label: 'init_module', name: 'init_module', args: [0, 0, 0], expect: EPERM },
  { label: 'finit_module', name: 'finit_module', args: [-1, 0, 0], expect: EPERM },
  { label: 'kexec_load', name: 'kexec_load', args: [0, 0, 0, 0], expect: EPERM },
  { label: 'name_to_handle_at', name: 'name_to_handle_at', args: [AT_FDCWD, '/', 0, 0, 0], expect: EPERM },
  { label: 'open_by_handle_at', name: 'open_by_handle_at', args: [AT_FDCWD, 0, 0], expect: EPERM },
  { label: 'swapon', name: 'swapon', args: [0, 0], expect: EPERM },
  { label: 'reboot', name: 'reboot', args: [0, 0, 0, 0], expect: EPERM },
  { label: 'acct', name: 'acct', args: [0], expect: EPERM },
  { label: 'syslog', name: 'syslog', args: [10, 0, 0], expect: EPERM },
  { label: 'iopl', name: 'iopl', args: [0], expect: EPERM },
  { label: 'ioperm', name: 'ioperm', args: [0, 0, 0], expect: EPERM },
  { label: 'personality(ADDR_NO_RANDOMIZE)', name: 'personality', args: [0x0040000], expect: EPERM },
  { label: 'set_mempolicy', name: 'set_mempolicy', args: [0, 0, 0], expect: EPERM },
  { label: 'clock_settime', name: 'clock_settime', args: [0, 0], expect: EPERM },
  { label: 'settimeofday', name: 'settimeofday', args: [0, 0], expect: EPERM },
  { label: 'adjtimex', name: 'adjtimex', args: [0], expect: EPERM },
  { label: 'fanotify_init', name: 'fanotify_init', args: [0, 0], expect: EPERM },
  { label: 'socket(AF_UNIX)', name: 'socket', args: [1, 1, 0], expect: EPERM },
  { label: 'socket(AF_VSOCK)', name: 'socket', args: [40, 1, 0], expect: EPERM },
  { label: 'socket(AF_ALG)', name: 'socket', args: [38, 5, 0], expect: EPERM },
  { label: 'fallocate', name: 'fallocate', args: [-1, 0, 0, 1], expect: 'errno 95' },
];
/** Calls that run unprivileged without the filter: the control must show them not refused. */
export const REACHABLE_WITHOUT_FILTER = [
  'keyctl',
  'add_key',
  'request_key',
  'perf_event_open',
  'userfaultfd',
  'io_uring_setup',
  'io_uring_enter',
  'mount',
  'umount2',
  'unshare(0)',
  'setns',
  'clone(CLONE_NEWUSER|CLONE_FS)',
  'clone(CLONE_THREAD without CLONE_FILES)',
  'close_range(CLOSE_RANGE_UNSHARE)',
  'clone3',
  'ptrace',
  'process_vm_readv',
  'kcmp',
  'pidfd_getfd',
  'name_to_handle_at',
  'open_tree',
  'personality(ADDR_NO_RANDOMIZE)',
  'clock_settime',
  'adjtimex',
  'socket(AF_UNIX)',
  'fallocate',
];
/** Calls the filter lets through (their condition does not match). */
export const ALLOWED: Probe[] = [
  { label: 'socket(AF_INET)', name: 'socket', args: [2, 1, 0] },
  { label: 'personality(query)', name: 'personality', args: [0xffffffff] },
];
