/**
 * Ports for a local stack, and starting the dev server when a port it binds is taken between the
 * look and the bind: the server picks some of its ports itself, so a start that fails only on a
 * bind is tried again, and a start that fails for any other reason says why, from its own log.
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync, chmodSync, existsSync } from 'node:fs';
import * as path from 'node:path';
import { temporalCliPath } from '../../client/paths';
import { freePort, freePorts, startDevServer } from '../../client/dev-server';
import { tempDir } from '../helpers/temp';

/** A stand-in for the CLI that fails its first `failures` starts with `message`, then runs the real one. */
function flakyCli(dir: string, failures: number, message: string): { bin: string; starts: () => number } {
  const count = path.join(dir, 'starts');
  const bin = path.join(dir, 'temporal');
  writeFileSync(
    bin,
    [
      '#!/bin/sh',
      `n=$(($(cat '${count}' 2>/dev/null || echo 0) + 1)); echo $n > '${count}'`,
      `if [ $n -le ${failures} ]; then echo '${message}' >&2; exit 1; fi`,
      `exec '${temporalCliPath()}' "$@"`,
      '',
    ].join('\n'),
  );
  chmodSync(bin, 0o755);
  return { bin, starts: () => (existsSync(count) ? Number(readFileSync(count, 'utf8')) : 0) };
}

describe('startDevServer', function () {
  this.timeout(120_000);

  it("chooses ports no connection's own end can hold: below the kernel's ephemeral range", async function () {
    const range = '/proc/sys/net/ipv4/ip_local_port_range';
    const [low] = existsSync(range) ? readFileSync(range, 'utf8').trim().split(/\s+/).map(Number) : [0];
    // With no room below the range (or no range to read), any free port is taken.
    if (low <= 20_000) this.skip();
    const ports = await freePorts(20);
    assert.equal(new Set(ports).size, 20);
    for (const port of ports) assert.ok(port >= 10_000 && port < low, `port ${port}`);
  });

  it('tries again when the server lost a port it chose to another process', async () => {
    const dir = tempDir('arbiter-devserver-');
    const cli = flakyCli(dir, 1, 'level=ERROR msg="listen tcp 127.0.0.1:41234: bind: address already in use"');
    const server = await startDevServer({
      bin: cli.bin,
      port: await freePort(),
      dbFile: path.join(dir, 'temporal.db'),
      logFile: path.join(dir, 'temporal.log'),
    });
    await server.stop();
    assert.equal(cli.starts(), 2);
  });

  it('gives up after three lost binds, and any other failure at once, quoting the log', async () => {
    const dir = tempDir('arbiter-devserver-');
    const lost = flakyCli(dir, 9, 'bind: address already in use');
    const start = (bin: string) =>
      startDevServer({
        bin,
        port: 1,
        dbFile: path.join(dir, 'temporal.db'),
        logFile: path.join(dir, 'temporal.log'),
      });
    await assert.rejects(
      start(lost.bin),
      /exited with code 1 \(log: .*temporal\.log\):\nbind: address already in use$/,
    );
    assert.equal(lost.starts(), 3);

    const other = flakyCli(tempDir('arbiter-devserver-'), 9, 'unable to open database file');
    await assert.rejects(start(other.bin), /exited with code 1 .*:\nunable to open database file$/);
    assert.equal(other.starts(), 1, 'a failure that is not a lost bind is not tried again');
  });
});
