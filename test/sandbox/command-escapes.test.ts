/**
 * Escape suite, commands reaching out: the network (TCP to loopback and the host's addresses,
 * abstract unix sockets, DNS), the worker's environment and home, other workspaces, and
 * writes outside the workspace. Each runs in the real bwrap sandbox and is recorded.
 */
import assert from 'node:assert/strict';
import * as dgram from 'node:dgram';
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { envArgsInput } from '../../host/sandbox/bwrap';
import { LEASE_FILE } from '../../host/sandbox/uid-leases';
import { ATTEMPT_FILE } from '../../host/workspace-lock';
import { uniqueId } from '../helpers/fixtures';
import { testStack } from '../helpers/stack';
import { assertHostDirUnchanged, hostDir, sandboxTask, type SandboxTask } from './escape-helpers';

/** A node one-liner run inside the sandbox: prints OK/ERR and exits 0 only when `body` resolves. */
function nodeProbe(body: string): string[] {
  return [
    'node',
    '-e',
    `(async () => { ${body} })().then(() => { console.log('ESCAPED'); process.exit(0); }, (e) => { console.log('ERR', e.code || e.message); process.exit(3); }); setTimeout(() => { console.log('ERR timeout'); process.exit(4); }, 3000);`,
  ];
}

const connect = (opts: string) =>
  `await new Promise((ok, ko) => { const s = require('net').connect(${opts}); s.on('connect', ok); s.on('error', ko); });`;

/** A host process's command line, NULs kept; empty once it is gone. */
function hostCmdline(pid: string): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8');
  } catch {
    return '';
  }
}

/** A TCP server counting the connections it ever accepts. */
async function countingServer(host: string): Promise<{ server: net.Server; port: number; accepted: () => number }> {
  let accepted = 0;
  const server = net.createServer((s) => {
    accepted++;
    s.destroy();
  });
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  return { server, port: (server.address() as net.AddressInfo).port, accepted: () => accepted };
}

describe('sandbox escapes: commands reaching out', function () {
  this.timeout(60_000);
  let t: SandboxTask;

  before(async () => {
    t = await sandboxTask();
  });
  after(async () => {
    await t.release();
  });

  async function expectBlocked(argv: string[]): Promise<void> {
    const run = await t.run(argv, { timeoutMs: 8000 });
    assert.notEqual(run.exitCode, 0, `${argv.join(' ')} must fail: ${run.outputTail}`);
    assert.doesNotMatch(run.outputTail, /ESCAPED/);
    await t.commandRow(run);
  }

  it("no TCP to 127.0.0.1, to the host's own addresses, or to an abstract unix socket", async () => {
    const loopback = await countingServer('127.0.0.1');
    const anyAddr = await countingServer('0.0.0.0');
    const abstractName = `\0arbiter-escape-${uniqueId('sock')}`;
    let abstractAccepted = 0;
    const abstract = net.createServer((s) => {
      abstractAccepted++;
      s.destroy();
    });
    await new Promise<void>((resolve) => abstract.listen(abstractName, resolve));
    try {
      await expectBlocked(nodeProbe(connect(`${loopback.port}, '127.0.0.1'`)));
      await expectBlocked(nodeProbe(connect(`${anyAddr.port}, 'localhost'`)));
      const hostAddrs = Object.values(os.networkInterfaces())
        .flatMap((l) => l ?? [])
        .filter((a) => a.family === 'IPv4' && !a.internal);
      for (const a of hostAddrs) await expectBlocked(nodeProbe(connect(`${anyAddr.port}, '${a.address}'`)));
      await expectBlocked(nodeProbe(connect(`{ path: ${JSON.stringify(abstractName)} }`)));
      await expectBlocked(nodeProbe(connect(`53, '1.1.1.1'`)));
      // Only loopback exists inside, and it is a different loopback from the host's.
      const ifaces = await t.run([
        'node',
        '-e',
        'console.log(JSON.stringify(Object.keys(require("os").networkInterfaces())))',
      ]);
      assert.equal(ifaces.exitCode, 0, ifaces.outputTail);
      assert.ok(
        JSON.parse(ifaces.outputTail.trim()).every((n: string) => n === 'lo'),
        `only lo inside: ${ifaces.outputTail}`,
      );
      await new Promise((r) => setTimeout(r, 200));
      assert.equal(loopback.accepted(), 0, 'the loopback server saw no connection');
      assert.equal(anyAddr.accepted(), 0, 'the host-address server saw no connection');
      assert.equal(abstractAccepted, 0, 'the abstract socket saw no connection');
    } finally {
      loopback.server.close();
      anyAddr.server.close();
      abstract.close();
    }
  });

  it('no DNS: neither the system resolver nor a query to a resolver on the host loopback', async () => {
    let queries = 0;
    const dns = dgram.createSocket('udp4');
    dns.on('message', () => queries++);
    await new Promise<void>((resolve) => dns.bind(0, '127.0.0.1', resolve));
    const port = dns.address().port;
    try {
      await expectBlocked(nodeProbe(`await require('dns').promises.lookup('example.com');`));
      await expectBlocked(
        nodeProbe(
          `const r = new (require('dns').promises.Resolver)({ timeout: 500, tries: 1 }); r.setServers(['127.0.0.1:${port}']); await r.resolve4('example.com');`,
        ),
      );
      await expectBlocked(
        nodeProbe(
          `await new Promise((ok, ko) => { const s = require('dgram').createSocket('udp4'); s.on('error', ko); s.send(Buffer.from('q'), ${port}, '127.0.0.1', (e) => (e ? ko(e) : setTimeout(() => ko(new Error('sent, no answer')), 500))); });`,
        ),
      );
      await expectBlocked(['getent', 'hosts', 'example.com']);
      await new Promise((r) => setTimeout(r, 200));
      assert.equal(queries, 0, 'the resolver on the host loopback received nothing');
    } finally {
      dns.close();
    }
  });

  it("the worker's environment is not visible: env, /proc/1, /proc/self, the worker's pid", async () => {
    const secret = uniqueId('ARBITER-SECRET');
    process.env.ARBITER_TEST_SECRET = secret;
    try {
      for (const argv of [
        ['env'],
        ['cat', '/proc/1/environ'],
        ['cat', '/proc/self/environ'],
        ['cat', `/proc/${process.pid}/environ`],
        ['cat', `/proc/${process.ppid}/environ`],
      ]) {
        const run = await t.run(argv);
        assert.doesNotMatch(run.outputTail, new RegExp(secret), `${argv.join(' ')} reveals no secret`);
        assert.doesNotMatch(run.outputTail, /DATABASE_URL|TEMPORAL_ADDRESS|ARBITER_TEST_SECRET/);
        await t.commandRow(run);
      }
      const names = (await t.run(['env'])).outputTail
        .trim()
        .split('\n')
        .map((l) => l.split('=')[0]);
      assert.deepEqual(
        names.filter((n) => !['PATH', 'HOME', 'TMPDIR', 'LANG', 'CI', 'PWD'].includes(n)),
        [],
        'only the allow-list reaches the command',
      );
      const procs = await t.run(['ls', '/proc']);
      const pids = procs.outputTail
        .split('\n')
        .filter((l) => /^\d+$/.test(l))
        .map(Number);
      assert.ok(!pids.includes(process.pid) || process.pid < 10, 'the worker is not in the sandbox pid namespace');
      assert.ok(pids.length < 10, `only the sandbox's own processes are visible: ${pids.join(' ')}`);
      const who = await t.run(['id', '-u']);
      assert.equal(who.outputTail.trim(), String(t.uid), "the command runs as the task's unprivileged sandbox user");
    } finally {
      delete process.env.ARBITER_TEST_SECRET;
    }
  });

  it("a command's own environment (an agent's gateway token, its prompt) is on no host command line", async () => {
    const secret = uniqueId('gateway-token');
    let done = false;
    const running = t
      .run(['sh', '-c', 'sleep 2; echo "got=$MODEL_TOKEN"'], { allowShell: true, env: { MODEL_TOKEN: secret } })
      .finally(() => (done = true));
    const seen = { sleep: false, secret: [] as string[] };
    while (!done) {
      for (const pid of readdirSync('/proc').filter((n) => /^\d+$/.test(n))) {
        const argv = hostCmdline(pid);
        if (argv.includes(secret)) seen.secret.push(argv.slice(0, 200));
        if (argv.startsWith('sleep\0' + '2')) seen.sleep = true;
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    const run = await running;
    assert.match(run.outputTail, new RegExp(`got=${secret}`), `the command has its environment: ${run.outputTail}`);
    assert.ok(seen.sleep, 'the scan ran while the command did');
    assert.deepEqual(seen.secret, [], 'no host command line carries it');
    assert.throws(
      () => envArgsInput({ MODEL_TOKEN: 'x\0--bind\0/\0/workspace' }),
      /environment variable 'MODEL_TOKEN' holds a NUL/,
      'a NUL would make the rest bwrap options',
    );
  });

  it("the worker's home, ARBITER_HOME and other tasks' workspaces are not reachable", async () => {
    const secret = uniqueId('home-secret');
    const inHome = path.join(os.homedir(), `.arbiter-escape-${uniqueId('f')}`);
    writeFileSync(inHome, secret);
    const other = await sandboxTask();
    writeFileSync(path.join(other.tree, 'other-task.txt'), secret);
    try {
      for (const argv of [
        ['ls', os.homedir()],
        ['cat', inHome],
        ['ls', testStack().home],
        ['cat', path.join(other.tree, 'other-task.txt')],
        ['ls', path.dirname(path.dirname(t.tree))],
        ['ls', '/workspace/..'],
      ]) {
        const run = await t.run(argv);
        assert.doesNotMatch(run.outputTail, new RegExp(secret), `${argv.join(' ')} reveals nothing`);
        if (argv[1] === '/workspace/..')
          assert.ok(
            !run.outputTail.split('\n').some((l) => l === 'git' || l === 'tree'),
            `the sandbox root holds no git dir: ${run.outputTail}`,
          );
        else assert.notEqual(run.exitCode, 0, `${argv.join(' ')} fails`);
        await t.commandRow(run);
      }
    } finally {
      rmSync(inHome, { force: true });
      await other.release();
    }
  });

  it('writes outside the workspace never reach the host; system paths are read-only', async () => {
    const h = hostDir();
    const name = uniqueId('escape');
    // /tmp and /dev/shm are private to the sandbox: writable inside, invisible outside.
    for (const dir of ['/tmp', '/dev/shm']) {
      const run = await t.run(['sh', '-c', `echo pwned > ${dir}/${name} && cat ${dir}/${name}`], { allowShell: true });
      assert.equal(run.exitCode, 0, run.outputTail);
      assert.equal(existsSync(`${dir}/${name}`), false, `${dir}/${name} does not appear on the host`);
      await t.commandRow(run);
    }
    for (const target of [
      `/usr/local/${name}`,
      `/usr/bin/${name}`,
      `/etc/${name}`,
      '/etc/passwd',
      `/${name}`,
      `/dev/${name}`,
      '/etc/ld.so.cache',
      `/proc/sys/kernel/${name}`,
      h.sentinel,
      h.missing,
      path.join(t.gitDir, name),
      path.join(t.repo, name),
    ]) {
      const run = await t.run(['sh', '-c', `echo pwned >> '${target}'`], { allowShell: true });
      assert.notEqual(run.exitCode, 0, `writing ${target} fails: ${run.outputTail}`);
      await t.commandRow(run);
    }
    for (const p of [
      `/usr/local/${name}`,
      `/usr/bin/${name}`,
      `/etc/${name}`,
      `/${name}`,
      `/dev/${name}`,
      path.join(t.gitDir, name),
      path.join(t.repo, name),
    ])
      assert.equal(existsSync(p), false, `${p} was not created`);
    assert.deepEqual(
      readdirSync(path.dirname(t.tree)).sort(),
      ['git', ATTEMPT_FILE, LEASE_FILE, 'tree'].sort(),
      'nothing appeared beside the tree (and its uid lease and attempt mark)',
    );
    assertHostDirUnchanged(h);
  });
});
