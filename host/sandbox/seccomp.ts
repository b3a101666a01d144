/**
 * A tiny seccomp filter for sandboxed commands, passed to bwrap (`--seccomp 3`). It refuses
 * `fallocate`, which reserves disk without growing a file, so it slips past RLIMIT_FSIZE and a
 * polled workspace quota alike. EOPNOTSUPP makes programs (glibc's posix_fallocate) fall back
 * to writing bytes, which the limits do see. Everything else is allowed.
 */

const AUDIT_ARCH_X86_64 = 0xc000003e;
const AUDIT_ARCH_AARCH64 = 0xc00000b7;
const FALLOCATE = { x86_64: 285, aarch64: 47 };
const EOPNOTSUPP = 95;

const LD_W_ABS = 0x20; // BPF_LD | BPF_W | BPF_ABS
const JEQ_K = 0x15; // BPF_JMP | BPF_JEQ | BPF_K
const RET_K = 0x06; // BPF_RET | BPF_K
const RET_ALLOW = 0x7fff0000;
const RET_ERRNO = 0x00050000;

/** [code, jt, jf, k]; jumps are relative to the next instruction. */
type Instruction = [number, number, number, number];

const PROGRAM: Instruction[] = [
  [LD_W_ABS, 0, 0, 4], //               0: A = arch
  [JEQ_K, 0, 2, AUDIT_ARCH_X86_64], //  1: x86_64 ? 2 : 4
  [LD_W_ABS, 0, 0, 0], //               2: A = syscall nr
  [JEQ_K, 3, 4, FALLOCATE.x86_64], //   3: fallocate ? 7 : 8
  [JEQ_K, 0, 3, AUDIT_ARCH_AARCH64], // 4: aarch64 ? 5 : 8
  [LD_W_ABS, 0, 0, 0], //               5: A = syscall nr
  [JEQ_K, 0, 1, FALLOCATE.aarch64], //  6: fallocate ? 7 : 8
  [RET_K, 0, 0, RET_ERRNO | EOPNOTSUPP], // 7: refuse
  [RET_K, 0, 0, RET_ALLOW], //          8: allow
];

/** The filter as the `struct sock_filter[]` bytes bwrap reads from its seccomp fd. */
export function seccompProgram(): Buffer {
  const buf = Buffer.alloc(PROGRAM.length * 8);
  PROGRAM.forEach(([code, jt, jf, k], i) => {
    buf.writeUInt16LE(code, i * 8);
    buf.writeUInt8(jt, i * 8 + 2);
    buf.writeUInt8(jf, i * 8 + 3);
    buf.writeUInt32LE(k >>> 0, i * 8 + 4);
  });
  return buf;
}
