/**
 * A python3 program (ctypes, no compiler needed) that makes raw system calls and prints what each
 * returned, so the escape suite can make the same calls inside the sandbox and, as a control,
 * on the host as the same unprivileged user without bwrap and the filter: a call the filter
 * refuses shows EPERM (or its errno) inside and something else outside.
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
