/**
 * The task benchmark grades honestly. Each task is a real bug: its FAIL_TO_PASS tests fail on
 * the buggy project and pass with the known fix, its PASS_TO_PASS tests pass on both. Through
 * Arbiter's lifecycle on the real stack, the scripted oracle resolves every task, an agent whose
 * change fixes nothing resolves none (after its retry), and an agent that rewrites the failing
 * tests resolves none either: the tests are outside the spec's scope.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync } from 'node:fs';
import * as path from 'node:path';
import {
  loadBenchTasks,
  makeBenchRepo,
  runTaskSuite,
  type BenchTask,
  type ScriptedBenchAgent,
} from '../../bench/task-suite';
import { testStack } from '../helpers/stack';
import { traversableTempDir } from '../helpers/temp';
import { uniqueId } from '../helpers/fixtures';

const tasks = loadBenchTasks();

/** Exit code of `command` (a shell command line, as a gate runs it) in `dir`, outside any sandbox. */
function exitCode(command: string, dir: string): number {
  try {
    execFileSync('sh', ['-c', command], { cwd: dir, stdio: 'ignore', timeout: 30_000 });
    return 0;
  } catch (err) {
    return (err as { status?: number }).status ?? 1;
  }
}

function checkout(task: BenchTask, withFix: boolean): string {
  const dir = makeBenchRepo(task, traversableTempDir('arbiter-bench-'));
  if (withFix) cpSync(path.join(task.dir, 'fix'), dir, { recursive: true });
  return dir;
}

async function suite(agent: ScriptedBenchAgent, candidates?: number, only = tasks) {
  const { client, database } = testStack();
  const workDir = traversableTempDir('arbiter-bench-');
  return runTaskSuite({
    db: database.db,
    client,
    tenantId: uniqueId('bench'),
    agent: { scripted: agent },
    tasks: only,
    workDir,
    runId: uniqueId(agent),
    candidates,
  });
}

describe('task benchmark', function () {
  this.timeout(300_000);

  it('holds at least six tasks, in JavaScript and in Python', () => {
    assert.ok(tasks.length >= 6, `${tasks.length} tasks`);
    assert.ok(tasks.filter((t) => t.language === 'javascript').length >= 3);
    assert.ok(tasks.filter((t) => t.language === 'python').length >= 3);
  });

  for (const task of tasks)
    it(`${task.id} is a real bug: FAIL_TO_PASS fails before the fix and passes after; PASS_TO_PASS passes on both`, () => {
      const [buggy, fixed] = [checkout(task, false), checkout(task, true)];
      for (const command of task.failToPass) {
        assert.notEqual(exitCode(command, buggy), 0, `${command} fails on the buggy project`);
        assert.equal(exitCode(command, fixed), 0, `${command} passes with the fix`);
      }
      for (const command of task.passToPass) {
        assert.equal(exitCode(command, buggy), 0, `${command} passes on the buggy project`);
        assert.equal(exitCode(command, fixed), 0, `${command} passes with the fix`);
      }
    });

  it('grades the oracle at 100%: every task completed with every test passing', async () => {
    const results = await suite('oracle');
    assert.deepEqual(
      results.filter((r) => !r.resolved).map((r) => `${r.task}: ${r.state} ${r.failing.join(',')}`),
      [],
    );
    assert.ok(results.every((r) => r.attempts === 1));
  });

  it('grades best of N through the same lifecycle: two candidates of the oracle, the task resolved', async () => {
    const results = await suite('oracle', 2, tasks.slice(0, 2));
    assert.deepEqual(
      results.map((r) => [r.task, r.resolved, r.attempts]),
      tasks.slice(0, 2).map((t) => [t.id, true, 2]),
    );
  });

  it('grades an agent that fixes nothing at 0%, after its retry', async () => {
    const results = await suite('wrong');
    assert.deepEqual(
      results.filter((r) => r.resolved).map((r) => r.task),
      [],
    );
    for (const r of results) {
      assert.equal(r.state, 'FAILED');
      assert.equal(r.attempts, 2, `${r.task} was retried once with the failing tests' evidence`);
      assert.ok(
        r.failing.some((g) => g.startsWith('acceptance-F')),
        `${r.task}: ${r.failing.join(',')}`,
      );
    }
  });

  it('grades an agent that rewrites the failing tests at 0%: the scope gate refuses the change', async () => {
    const results = await suite('cheat');
    assert.deepEqual(
      results.filter((r) => r.resolved).map((r) => r.task),
      [],
    );
    for (const r of results) {
      assert.equal(r.state, 'FAILED');
      assert.ok(r.failedGates.includes('scope'), `${r.task}: ${r.failedGates.join(',')}`);
      assert.deepEqual(r.failing, [], `${r.task}: its rewritten tests pass, and still it is not resolved`);
    }
  });
});

// Keeps the helper honest: a command that cannot run is not a pass.
describe('task benchmark helpers', () => {
  it('a missing test file is a failure, not a pass', () => {
    const dir = mkdtempSync(path.join(traversableTempDir('arbiter-bench-'), 'empty-'));
    assert.notEqual(exitCode('node test/missing.test.js', dir), 0);
  });
});
