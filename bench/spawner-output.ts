/**
 * What a large program output costs the worker and its spawner (host/native-spawner.ts): the largest
 * patch a task may make crosses from git to the worker this way. Prints the time and both
 * processes' memory peaks for `--mib N` of output (default 200). While the bytes travelled as
 * base64 text, 200 MiB took 3.9 s and peaked the worker at 1,317 MiB, the spawner at 1,172 MiB;
 * as Buffers through the Node spawner, 0.64 s, 450 and 648 MiB.
 */
import { closeSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawnHelperPid, spawnViaHelper } from '../host/native-spawner';
import { rssBytes, rssHighWaterBytes } from './proc';

const MiB = 1024 * 1024;

async function main(): Promise<void> {
  const at = process.argv.indexOf('--mib');
  const mib = at === -1 ? 200 : Number(process.argv[at + 1]);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'arbiter-spawner-bench-'));
  const file = path.join(dir, 'output.bin');
  const fd = openSync(file, 'w');
  const chunk = Buffer.alloc(MiB, 'x');
  for (let i = 0; i < mib; i++) writeSync(fd, chunk);
  closeSync(fd);
  try {
    await spawnViaHelper('true', [], { env: { PATH: '/usr/bin:/bin' }, maxBuffer: 1024 });
    let spawnerPeak = 0;
    const sampler = setInterval(() => (spawnerPeak = Math.max(spawnerPeak, rssBytes(spawnHelperPid() ?? 0))), 20);
    const started = Date.now();
    const out = await spawnViaHelper('cat', [file], { env: { PATH: '/usr/bin:/bin' }, maxBuffer: (mib + 1) * MiB });
    const ms = Date.now() - started;
    clearInterval(sampler);
    const worker = rssHighWaterBytes(process.pid);
    console.log(
      `${(out.length / MiB).toFixed(0)} MiB of output in ${ms} ms; worker peak ${(worker / MiB).toFixed(0)} MiB, spawner peak ${(spawnerPeak / MiB).toFixed(0)} MiB`,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
