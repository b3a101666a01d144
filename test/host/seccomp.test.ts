/**
 * The compiled seccomp program, run by a small classic-BPF interpreter over synthetic
 * `seccomp_data`: every rule on both architectures, what must stay allowed (socketpair, inet
 * sockets, plain clone, the personality query), and foreign architectures and the x32 ABI killed.
 * The table's numbers are checked against the kernel headers installed on this machine. The
 * filter inside real bwrap is exercised by test/sandbox/syscall-escapes.test.ts.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { AUDIT_ARCH, RET, seccompInstructions, seccompProgram, X32_SYSCALL_BIT } from '../../host/sandbox/seccomp';
import { ERRNO, RULES, SYSCALLS, type Arch, type SyscallName } from '../../host/sandbox/seccomp-table';

interface SeccompData {
  arch: number;
  nr: number;
  args?: number[];
}

/** Runs the program the way the kernel does: A register, forward jumps, 32-bit loads from seccomp_data. */
function evaluate(data: SeccompData): number {
  const program = seccompInstructions();
  const word = (offset: number): number => {
    if (offset === 0) return data.nr >>> 0;
    if (offset === 4) return data.arch >>> 0;
    const arg = (offset - 16) / 8;
    assert.ok(Number.isInteger(arg) && arg >= 0 && arg < 6, `load from offset ${offset}`);
    return (data.args?.[arg] ?? 0) >>> 0;
  };
  let a = 0;
  for (let pc = 0; pc < program.length; pc++) {
    const [code, jt, jf, k] = program[pc];
    if (code === 0x20) a = word(k);
    else if (code === 0x06) return k >>> 0;
    else if (code === 0x15) pc += a === k >>> 0 ? jt : jf;
    else if (code === 0x35) pc += a >= k >>> 0 ? jt : jf;
    else if (code === 0x45) pc += (a & k) !== 0 ? jt : jf;
    else if (code === 0x54) a = (a & k) >>> 0;
    else assert.fail(`unexpected opcode ${code.toString(16)} at ${pc}`);
  }
  return assert.fail('the program ran off its end');
}

const nr = (name: SyscallName, arch: Arch): number | undefined =>
  (SYSCALLS[name] as Partial<Record<Arch, number>>)[arch];
const call = (arch: Arch, number: number, args: number[] = []) =>
  evaluate({ arch: AUDIT_ARCH[arch], nr: number, args });
const errno = (e: number) => (RET.ERRNO | e) >>> 0;
const ARCHES: Arch[] = ['x86_64', 'aarch64'];
/** Calls the filter must leave alone, by architecture. */
const ALLOWED = { read: { x86_64: 0, aarch64: 63 }, socketpair: { x86_64: 53, aarch64: 199 } };

describe('seccomp program', () => {
  it('refuses every unconditional rule with its errno on both architectures', () => {
    let checked = 0;
    for (const rule of RULES.filter((r) => !r.when))
      for (const name of rule.names)
        for (const arch of ARCHES) {
          const n = nr(name, arch);
          if (n === undefined) continue;
          assert.equal(call(arch, n, [0, 0]), errno(rule.errno), `${name} on ${arch}`);
          checked++;
        }
    assert.ok(checked > 100, `${checked} checks`);
    assert.equal(call('x86_64', 285), errno(ERRNO.EOPNOTSUPP), 'fallocate keeps EOPNOTSUPP');
    assert.equal(call('aarch64', 435), errno(ERRNO.ENOSYS), 'clone3 says ENOSYS so callers fall back to clone');
  });

  it('allows what is not listed: read, socketpair, inet sockets, plain clone, the personality query', () => {
    for (const arch of ARCHES) {
      assert.equal(call(arch, ALLOWED.read[arch]), RET.ALLOW);
      assert.equal(call(arch, ALLOWED.socketpair[arch], [1, 1, 0]), RET.ALLOW, 'socketpair(AF_UNIX)');
      assert.equal(call(arch, ALLOWED.socketpair[arch], [30, 5, 0]), errno(ERRNO.EPERM), 'socketpair(AF_TIPC)');
      const socket = nr('socket', arch) as number;
      assert.equal(call(arch, socket, [1, 1, 0]), errno(ERRNO.EPERM), 'socket(AF_UNIX)');
      assert.equal(call(arch, socket, [2, 1, 0]), RET.ALLOW, 'socket(AF_INET)');
      assert.equal(call(arch, socket, [10, 2, 0]), RET.ALLOW, 'socket(AF_INET6)');
      assert.equal(call(arch, socket, [16, 3, 0]), RET.ALLOW, 'socket(AF_NETLINK)');
      assert.equal(call(arch, socket, [40, 1, 0]), errno(ERRNO.EPERM), 'socket(AF_VSOCK): namespaces do not hold it');
      assert.equal(call(arch, socket, [38, 5, 0]), errno(ERRNO.EPERM), 'socket(AF_ALG)');
      assert.equal(call(arch, socket, [17, 3, 0]), errno(ERRNO.EPERM), 'socket(AF_PACKET)');
      const clone = nr('clone', arch) as number;
      assert.equal(call(arch, clone, [17]), RET.ALLOW, 'fork-like clone(SIGCHLD)');
      assert.equal(call(arch, clone, [0x3d0f00]), RET.ALLOW, "pthread_create's clone flags");
      assert.equal(call(arch, clone, [0x10000000 | 17]), errno(ERRNO.EPERM), 'clone(CLONE_NEWUSER)');
      assert.equal(call(arch, clone, [0x20000 | 17]), errno(ERRNO.EPERM), 'clone(CLONE_NEWNS)');
      // A thread with an open-file table of its own: /proc/<pid>/fd lists the leader's only.
      assert.equal(call(arch, clone, [0x3d0f00 & ~0x400]), errno(ERRNO.EPERM), 'clone(CLONE_THREAD, no CLONE_FILES)');
      assert.equal(call(arch, clone, [0x400 | 17]), RET.ALLOW, 'a process sharing its files (vfork-like helpers)');
      const closeRange = nr('close_range', arch) as number;
      assert.equal(call(arch, closeRange, [3, 0xffffffff, 0]), RET.ALLOW, 'closefrom');
      assert.equal(call(arch, closeRange, [3, 0xffffffff, 4]), RET.ALLOW, 'close_range(CLOSE_RANGE_CLOEXEC)');
      assert.equal(call(arch, closeRange, [3, 3, 2]), errno(ERRNO.EPERM), 'close_range(CLOSE_RANGE_UNSHARE)');
      const personality = nr('personality', arch) as number;
      for (const p of [0xffffffff, 0, 8]) assert.equal(call(arch, personality, [p]), RET.ALLOW, `personality(${p})`);
      assert.equal(call(arch, personality, [0x0040000]), errno(ERRNO.EPERM), 'personality(ADDR_NO_RANDOMIZE)');
    }
  });

  it('kills foreign architectures and the x32 ABI', () => {
    for (const arch of [0x40000003 /* i386 */, 0x40000028 /* arm */, 0x8000003e /* not an arch */])
      assert.equal(evaluate({ arch, nr: 0 }), RET.KILL_PROCESS, `arch ${arch.toString(16)}`);
    assert.equal(call('x86_64', X32_SYSCALL_BIT | 39), RET.KILL_PROCESS, 'x32 getpid');
    assert.equal(call('x86_64', X32_SYSCALL_BIT | 250), RET.KILL_PROCESS, 'x32 keyctl');
  });

  it('serialises to struct sock_filter bytes within the kernel limit', () => {
    const bytes = seccompProgram();
    const count = seccompInstructions().length;
    assert.equal(bytes.length, count * 8);
    assert.ok(count < 4096, `${count} instructions`);
  });

  it("the table's numbers are the kernel's (x86_64 and aarch64 headers on this machine)", function () {
    const headers: Record<Arch, string> = {
      x86_64: '/usr/include/x86_64-linux-gnu/asm/unistd_64.h',
      aarch64: '/usr/include/asm-generic/unistd.h',
    };
    const missing = Object.values(headers).filter((f) => !existsSync(f));
    if (missing.length) this.skip();
    for (const arch of ARCHES) {
      const text = readFileSync(headers[arch], 'utf8');
      for (const name of Object.keys(SYSCALLS) as SyscallName[]) {
        const m = new RegExp(`#define __NR(?:3264)?_${name}\\s+(\\d+)`).exec(text);
        assert.equal(nr(name, arch), m ? Number(m[1]) : undefined, `${name} on ${arch}`);
      }
    }
  });
});
