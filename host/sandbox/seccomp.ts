/**
 * The seccomp filter for sandboxed commands, passed to bwrap (`--seccomp 3`), compiled from the
 * deny list in `seccomp-table.ts`. The program checks the architecture first: x86_64 and aarch64
 * each get their own block of `syscall == n` tests, and anything else (i386 via `int 0x80`, the
 * x32 ABI, a foreign binary) kills the process, since the table's numbers would mean other calls
 * there. Jumps are written with labels and resolved here, so the table can change without
 * anyone counting instructions.
 */
import { RULES, SYSCALLS, type Arch, type ArgCondition, type SyscallRule } from './seccomp-table';

/** AUDIT_ARCH_* values in `seccomp_data.arch`. */
export const AUDIT_ARCH: Record<Arch, number> = { x86_64: 0xc000003e, aarch64: 0xc00000b7 };
/** x86_64 syscall numbers with this bit set are the x32 ABI. */
export const X32_SYSCALL_BIT = 0x40000000;

/** Offsets into `struct seccomp_data`: nr, arch, instruction pointer, then six 64-bit arguments. */
const NR = 0;
const ARCH = 4;
const ARG0_LOW = 16; // little-endian on both architectures

const LD_W_ABS = 0x20; // BPF_LD | BPF_W | BPF_ABS
const JEQ_K = 0x15; // BPF_JMP | BPF_JEQ | BPF_K
const JGE_K = 0x35; // BPF_JMP | BPF_JGE | BPF_K
const JSET_K = 0x45; // BPF_JMP | BPF_JSET | BPF_K
const ALU_AND_K = 0x54; // BPF_ALU | BPF_AND | BPF_K
const RET_K = 0x06; // BPF_RET | BPF_K

/** SECCOMP_RET_* actions. */
export const RET = { KILL_PROCESS: 0x80000000, ERRNO: 0x00050000, ALLOW: 0x7fff0000 } as const;

/** One instruction with symbolic jump targets (`undefined`: the next instruction). */
interface Op {
  code: number;
  k: number;
  jt?: string;
  jf?: string;
}
type Line = Op | { label: string };

const load = (offset: number): Op => ({ code: LD_W_ABS, k: offset });
const ret = (action: number): Op => ({ code: RET_K, k: action });
const jump = (code: number, k: number, jt?: string, jf?: string): Op => ({ code, k, jt, jf });

/** The checks a rule's argument condition adds, ending in its errno or in allow. */
function conditionBlock(when: ArgCondition, deny: Op, prefix: string): Line[] {
  const [allow, denied] = [`${prefix}.allow`, `${prefix}.deny`];
  if ('arg0NotIn' in when)
    return [
      load(ARG0_LOW),
      ...when.arg0NotIn.map((v) => jump(JEQ_K, v, allow)),
      deny,
      { label: allow },
      ret(RET.ALLOW),
    ];
  const tests = when.anyOf.flatMap((t): Op[] => {
    const arg = load(ARG0_LOW + 8 * (t.arg ?? 0));
    return 'anyOf' in t
      ? [arg, jump(JSET_K, t.anyOf, denied)]
      : [arg, { code: ALU_AND_K, k: t.mask }, jump(JEQ_K, t.equals, denied)];
  });
  return [...tests, ret(RET.ALLOW), { label: denied }, deny];
}

/** The block for one architecture: load the number, test each rule's calls, allow the rest. */
function archBlock(arch: Arch, rules: SyscallRule[]): Line[] {
  const lines: Line[] = [{ label: arch }, load(NR)];
  const targets: Line[] = [];
  if (arch === 'x86_64') {
    lines.push(jump(JGE_K, X32_SYSCALL_BIT, 'x32'));
    targets.push({ label: 'x32' }, ret(RET.KILL_PROCESS));
  }
  rules.forEach((rule, i) => {
    const target = `${arch}.rule${i}`;
    const numbers = rule.names.flatMap((n) => {
      const nr = (SYSCALLS[n] as Partial<Record<Arch, number>>)[arch];
      return nr === undefined ? [] : [nr];
    });
    if (numbers.length === 0) return;
    for (const nr of numbers) lines.push(jump(JEQ_K, nr, target));
    const deny = ret(RET.ERRNO | rule.errno);
    targets.push({ label: target }, ...(rule.when ? conditionBlock(rule.when, deny, target) : [deny]));
  });
  return [...lines, ret(RET.ALLOW), ...targets];
}

/** Resolves labels into the relative jumps BPF wants (forward only, at most 255). */
function assemble(lines: Line[]): Array<[number, number, number, number]> {
  const at = new Map<string, number>();
  const ops: Op[] = [];
  for (const line of lines) {
    if ('label' in line) {
      if (at.has(line.label)) throw new Error(`seccomp program: label '${line.label}' twice`);
      at.set(line.label, ops.length);
    } else ops.push(line);
  }
  return ops.map((op, i) => {
    const offset = (label: string | undefined) => {
      if (label === undefined) return 0;
      const target = at.get(label);
      if (target === undefined) throw new Error(`seccomp program: no label '${label}'`);
      const delta = target - (i + 1);
      if (delta < 0 || delta > 255) throw new Error(`seccomp program: jump to '${label}' spans ${delta}`);
      return delta;
    };
    return [op.code, offset(op.jt), offset(op.jf), op.k];
  });
}

/** The whole program as instructions: [code, jt, jf, k]. */
export function seccompInstructions(rules: SyscallRule[] = RULES): Array<[number, number, number, number]> {
  const arches = Object.keys(AUDIT_ARCH) as Arch[];
  return assemble([
    load(ARCH),
    ...arches.map((arch) => jump(JEQ_K, AUDIT_ARCH[arch], arch)),
    ret(RET.KILL_PROCESS),
    ...arches.flatMap((arch) => archBlock(arch, rules)),
  ]);
}

/** The filter as the `struct sock_filter[]` bytes bwrap reads from its seccomp fd. */
export function seccompProgram(): Buffer {
  const program = seccompInstructions();
  const buf = Buffer.alloc(program.length * 8);
  program.forEach(([code, jt, jf, k], i) => {
    buf.writeUInt16LE(code, i * 8);
    buf.writeUInt8(jt, i * 8 + 2);
    buf.writeUInt8(jf, i * 8 + 3);
    buf.writeUInt32LE(k >>> 0, i * 8 + 4);
  });
  return buf;
}
