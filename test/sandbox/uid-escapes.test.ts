/**
 * Escape suite, tasks against each other: each task's commands run as a uid of its own, so one
 * task's fork bomb at its process limit leaves another task's commands running, and even a process
 * that got out of its namespaces could neither signal another task's processes nor read its
 * workspace (other uid, 0700). Controls show each attack lands on its own task: a second command of
 * the bombing task cannot start, and the other task's own uid does reach its files and processes.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { MockActivityEnvironment } from '@temporalio/testing';
import type { PreparedWorkspace } from '../../domain/activity-io';
import { SandboxUidsExhaustedError } from '../../domain/errors';
import { assertNoProcessesLeft, hostProcessesWith, sandboxTask, smallConfig, type SandboxTask } from './escape-helpers';

const PROCESSES = 48;

/** Processes on the host whose real uid is `uid`. */
function processesOf(uid: number): number {
  let n = 0;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (new RegExp(`^Uid:\\s+${uid}\\s`, 'm').test(readFileSync(`/proc/${entry}/status`, 'utf8'))) n++;
    } catch {
      // exited meanwhile
    }
  }
  return n;
}

async function waitFor(what: string, ok: () => boolean, withinMs = 8000): Promise<void> {
  const deadline = Date.now() + withinMs;
  while (!ok()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** `argv` on the host as `uid`, outside any sandbox: what a process that escaped its namespaces could do. */
function asUid(uid: number, argv: string[]): { status: number | null; output: string } {
  const run = spawnSync('setpriv', [`--reuid=${uid}`, `--regid=${uid}`, '--clear-groups', ...argv], {
    cwd: '/',
    encoding: 'utf8',
    env: { PATH: '/usr/bin:/bin' },
  });
  return { status: run.status, output: `${run.stdout}${run.stderr}` };
}

/** A marker `sleep` accepts as its duration, so its processes can be found by command line. */
const sleepMarker = () => `6${randomInt(0, 9)}.${randomInt(100000, 999999)}`;

/** The `sleep <marker>` processes themselves (not the sandbox processes whose argv carries them). */
const sleepers = (marker: string) =>
  hostProcessesWith(`sleep\0${marker}`).filter((pid) => {
    try {
      return readFileSync(`/proc/${pid}/cmdline`, 'utf8').startsWith(`sleep\0${marker}`);
    } catch {
      return false;
    }
  });

describe('sandbox escapes: tasks kept apart by uid', function () {
  this.timeout(90_000);
  let a: SandboxTask;
  let b: SandboxTask;

  before(async () => {
    a = await sandboxTask({ config: smallConfig({ processes: PROCESSES }) });
    b = await sandboxTask({ config: smallConfig({ processes: PROCESSES }) });
  });
  after(async () => {
    await a.release();
    await b.release();
  });

  it('each task runs as its own uid, kept when its workspace is prepared again; its tree is 0700', async () => {
    assert.notEqual(a.uid, b.uid);
    for (const t of [a, b]) {
      assert.equal((await t.run(['id', '-u'])).outputTail.trim(), String(t.uid));
      const st = statSync(t.tree);
      assert.equal(st.uid, t.uid, 'the tree belongs to the task uid');
      assert.equal(st.mode & 0o777, 0o700, 'and no one else may look in');
    }
    const again = (await a.env.run(a.activities.prepareWorkspace, {
      tenantId: a.tenantId,
      taskId: a.taskId,
      repoPath: a.repo,
    })) as PreparedWorkspace;
    assert.equal(again.workspacePath, a.tree);
    assert.equal(statSync(a.tree).uid, a.uid, 'a retry of the preparation keeps the uid');
    assert.equal((await a.run(['id', '-u'])).outputTail.trim(), String(a.uid));
  });

  it("task A's fork bomb at its process limit does not keep task B's commands from running", async () => {
    const marker = sleepMarker();
    const bomb = [
      'import os, time',
      'while True:',
      '    try:',
      `        if os.fork() == 0: os.execv('/usr/bin/sleep', ['sleep', '${marker}'])`,
      '    except OSError:',
      '        time.sleep(0.01)',
    ].join('\n');
    const bombing = a.run(['python3', '-c', bomb], { timeoutMs: 25_000 });
    await waitFor(`A's uid to hold its ${PROCESSES} processes`, () => processesOf(a.uid) >= PROCESSES - 1);
    const own = await a.run(['true']);
    assert.notEqual(own.exitCode, 0, `control: another command of A cannot start at its limit: ${own.outputTail}`);
    for (let i = 0; i < 3; i++) {
      const run = await b.run(['sh', '-c', 'echo alive | tr a-z A-Z'], { allowShell: true });
      assert.equal(run.exitCode, 0, run.outputTail);
      assert.equal(run.outputTail.trim(), 'ALIVE');
    }
    assert.ok(processesOf(a.uid) >= PROCESSES - 1, 'the bomb was at its limit throughout');
    const ended = await bombing;
    assert.equal(ended.timedOut, true, 'the bomb ran until its timeout');
    await assertNoProcessesLeft(`sleep\0${marker}`, 5000);
  });

  it("task A cannot signal task B's processes nor read B's workspace, inside its sandbox or out of it", async () => {
    const marker = sleepMarker();
    const sleeping = b.run(['sleep', marker], { timeoutMs: 20_000 });
    await waitFor("B's process", () => sleepers(marker).length === 1);
    const [pid] = sleepers(marker);
    // Inside A's sandbox B's processes are not even visible; kill everything it can.
    const inside = await a.run(['sh', '-c', `kill -9 ${pid}; kill -9 -1; sleep 1`], { allowShell: true });
    await a.commandRow(inside);
    assert.equal(sleepers(marker).length, 1, "B's process survived A's kill -9 -1");
    // A process of A's uid outside every namespace still meets other uids and mode 0700.
    const readme = path.join(b.tree, 'README.md');
    assert.notEqual(asUid(a.uid, ['kill', '-9', String(pid)]).status, 0, "A's uid cannot signal B's process");
    for (const argv of [
      ['cat', readme],
      ['ls', b.tree],
      ['touch', path.join(b.tree, 'planted')],
    ]) {
      const run = asUid(a.uid, argv);
      assert.notEqual(run.status, 0, `${argv.join(' ')} as A's uid fails`);
      assert.match(run.output, /Permission denied/);
    }
    // Control: B's own uid does reach them, so the refusals above are the uid's doing.
    assert.equal(asUid(b.uid, ['kill', '-0', String(pid)]).status, 0, "control: B's uid can signal it");
    assert.match(asUid(b.uid, ['cat', readme]).output, /# target/, "control: B's uid reads B's files");
    assert.deepEqual(sleepers(marker), [pid], "B's process is alive");
    const ended = await sleeping;
    assert.equal(ended.timedOut, true, "B's command ran to its own timeout, untouched");
  });
});

// Found in review: releasing a workspace (as an insider's own workflow code may, at any time) gave up
// its uid while its command still ran, and the next task, of any tenant, was handed that uid at once.
describe('sandbox escapes: a uid is not handed on while a process runs as it', function () {
  this.timeout(90_000);
  const only = 1_900_000_000 + randomInt(0, 99_999);
  const config = { ...smallConfig({ processes: PROCESSES }), uids: { first: only, last: only } };

  it('a workspace released under its running command keeps its uid from other tasks until the command ends', async () => {
    const a = await sandboxTask({ config });
    assert.equal(a.uid, only);
    const marker = sleepMarker().replace(/^6\d/, '4');
    const sleeping = a.run(['sleep', marker], { timeoutMs: 30_000 });
    await waitFor("A's process", () => sleepers(marker).length === 1);
    const insider = new MockActivityEnvironment({ currentAttemptScheduledTimestampMs: Date.now() });
    await insider.run(a.activities.releaseWorkspace, { tenantId: a.tenantId, taskId: a.taskId, keep: true });
    await assert.rejects(sandboxTask({ config }), (err: unknown) => err instanceof SandboxUidsExhaustedError);
    assert.equal((await sleeping).exitCode, 0, "A's command ran to its end");
    await waitFor('no process of the uid', () => processesOf(only) === 0);
    const b = await sandboxTask({ config });
    assert.equal(b.uid, only, 'once no process runs as it, the uid is free');
    await b.release();
  });
});
