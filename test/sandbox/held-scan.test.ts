/**
 * The quota watchdog's scan of what a command's processes hold stops at MAX_HELD. Found in review:
 * it listed every open file and every mapping first (a process may map about 65,000 times, a
 * command may run 256 processes), so one check of 48 processes' 3 million cheap mappings took
 * 13 s, no other check ran meanwhile, and the command wrote 1 GiB against a 50 MiB quota.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { MAX_HELD } from '../../host/sandbox/held-files';
import { sandboxTask, smallConfig, type SandboxTask } from './escape-helpers';

const MiB = 1024 * 1024;

const MANY_MAPPINGS_THEN_FILL = [
  'import ctypes, os, time',
  'libc = ctypes.CDLL(None, use_errno=True)',
  'libc.mmap.restype = ctypes.c_void_p',
  'libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_long]',
  "open('/tmp/m', 'wb').write(b'x' * 4096)",
  'for p in range(48):',
  '    if os.fork() == 0:',
  "        fd = os.open('/tmp/m', os.O_RDONLY)",
  '        for i in range(65000): libc.mmap(None, 4096, 1, 2, fd, 0)',
  '        time.sleep(600); os._exit(0)',
  "chunk = b'\\0' * (8 << 20)",
  'time.sleep(2)',
  'for i in range(128):',
  "    with open(f'fill-{i}', 'wb') as f: f.write(chunk)",
  "print('wrote 1 GiB', flush=True)",
  'time.sleep(600)',
].join('\n');

describe('the held-files scan under many mappings', function () {
  this.timeout(300_000);
  let t: SandboxTask;
  before(async () => {
    t = await sandboxTask({ config: smallConfig({ workspaceBytes: 50 * MiB, fileBytes: 16 * MiB }) });
  });
  after(() => t.release());

  it('stops the command at MAX_HELD before it can write far past its quota', async () => {
    const run = await t.run(['python3', '-c', MANY_MAPPINGS_THEN_FILL], { timeoutMs: 240_000 });
    const bytes = Number(spawnSync('du', ['-s', '-B1', t.tree], { encoding: 'utf8' }).stdout.split('\t')[0]);
    assert.match(run.killedReason ?? '', new RegExp(`more than ${MAX_HELD} files open or mapped`), run.outputTail);
    assert.doesNotMatch(run.outputTail, /wrote 1 GiB/);
    assert.ok(bytes < 4 * 50 * MiB, `the workspace holds ${bytes} bytes against a 50 MiB quota`);
  });
});
