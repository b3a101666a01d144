/**
 * A best-of-N candidate cancelled by hand (`temporal workflow cancel` of its own run) after its
 * PASS verdict was stored ends CANCELLED, and a cancelled change is never delivered: the task
 * judged candidates by their verdicts alone, chose the cancelled one and delivered its change.
 * (An insider's attack, found in review.) The tenant's provenance chain is held meanwhile, as a
 * busy database would, so the window between the candidate's verdict and its end is wide.
 */
import assert from 'node:assert/strict';
import { and, eq, inArray, sql } from 'drizzle-orm';
import { MockActivityEnvironment } from '@temporalio/testing';
import { stringify } from 'yaml';
import { createActivities } from '../../activities';
import { tasks, verdicts } from '../../db/schema';
import type { ScriptedStep } from '../../domain/agent';
import { candidateTaskId } from '../../domain/candidates';
import type { TaskSnapshot } from '../../domain/task';
import type { VerdictPayload } from '../../domain/verdict';
import { taskWorkflowId, type TaskRef } from '../../temporal-config';
import { SILENT_LOGGER } from '../../workers/logger';
import { temporalWorkflow } from '../helpers/cli';
import { addScriptedAgent, makeRepo, registerRepo, repoDir, specYaml, uniqueId } from '../helpers/fixtures';
import { testActivityDeps, testStack } from '../helpers/stack';
import { refusedAs } from './insider-run';
import { refExists } from './helpers';

const write = (answer: number): ScriptedStep => ({
  op: 'write',
  path: 'src/feature.js',
  content: `module.exports = () => ${answer};\n`,
});
/** Slow enough (4 s) for the test to take the chain while both candidates are verifying. */
const CHECK = {
  name: 'check',
  argv: ['node', '-e', 'setTimeout(() => { require("./src/feature.js")() === 42 || process.exit(3) }, 4000)'],
};

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `read` every 50 ms until it returns something (at most 30 s). */
async function until<T>(read: () => Promise<T | undefined>): Promise<T> {
  for (let i = 0; i < 600; i++) {
    const found = await read();
    if (found !== undefined) return found;
    await sleep(50);
  }
  throw new Error('waited 30 s in vain');
}

describe('a best-of-N candidate cancelled after its verdict', function () {
  this.timeout(180_000);

  it('is judged as it ended: its pass does not stand, nothing is delivered, and it cannot be adopted', async () => {
    const { database, client } = testStack();
    const db = database.db;
    const tenantId = uniqueId('tenant');
    await addScriptedAgent(tenantId, [write(42)]);
    await addScriptedAgent(tenantId, [write(41)]);
    const repoPath = makeRepo({
      'src/app.js': 'module.exports = 1;\n',
      '.caws/policy.yaml': stringify({ version: 1, arbiter: { max_attempts: 1 } }),
    });
    const repo = await registerRepo(tenantId, repoPath);
    const input = { tenantId, taskId: uniqueId('task'), specYaml: specYaml(), repo, gates: [CHECK], candidates: 2 };
    const ids = [1, 2].map((k) => candidateTaskId(input.taskId, k));
    const ofCandidates = and(eq(tasks.tenantId, tenantId), inArray(tasks.id, ids));
    await client.submit(input);

    await until(async () => {
      const rows = await db.select({ state: tasks.state }).from(tasks).where(ofCandidates);
      return rows.length === 2 && rows.every((r) => r.state === 'VERIFYING') ? true : undefined;
    });
    let release!: () => void;
    let locked!: () => void;
    const isLocked = new Promise<void>((r) => (locked = r));
    const holder = db.transaction(async (tx) => {
      await tx.execute(sql`SELECT pg_advisory_xact_lock(hashtext('provenance/' || ${tenantId}))`);
      locked();
      await new Promise<void>((r) => (release = r));
    });
    await isLocked;
    const passing = await until(async () => {
      const rows = await db
        .select({ taskId: verdicts.taskId, outcome: verdicts.outcome, payload: verdicts.payload })
        .from(verdicts)
        .where(and(eq(verdicts.tenantId, tenantId), inArray(verdicts.taskId, ids)));
      return rows.find((r) => r.outcome === 'PASS');
    });
    const candidate: TaskRef = { tenantId, taskId: passing.taskId };
    await temporalWorkflow(['cancel', '--workflow-id', taskWorkflowId(candidate)]);
    await sleep(1500);
    release();
    await holder;

    const parent = client.temporal.workflow.getHandle(taskWorkflowId(input));
    const final = (await parent.result()) as TaskSnapshot;
    const [row] = await db
      .select({ state: tasks.state, runId: tasks.runId })
      .from(tasks)
      .where(and(eq(tasks.tenantId, tenantId), eq(tasks.id, candidate.taskId)));
    assert.equal(row.state, 'CANCELLED', 'the candidate ended cancelled');
    assert.equal(final.state, 'FAILED', JSON.stringify(final.candidates));
    assert.equal(final.candidates.find((c) => c.taskId === candidate.taskId)?.chosen, undefined);
    assert.equal(refExists(repoDir(repo), `refs/heads/arbiter/${input.taskId}`), false, 'nothing delivered');

    // Its verdict cannot be taken over either, whatever a forged assessment names, by the parent's
    // run while it is open (reopened here: an ended task's run adopts nothing at all).
    await db
      .update(tasks)
      .set({ state: 'EXECUTING' })
      .where(and(eq(tasks.tenantId, tenantId), eq(tasks.id, input.taskId)));
    const a = createActivities(testActivityDeps());
    const env = new MockActivityEnvironment(
      { workflowExecution: { workflowId: taskWorkflowId(input), runId: (await parent.describe()).runId } },
      { logger: SILENT_LOGGER },
    );
    const index = ids.indexOf(candidate.taskId) + 1;
    const policyDigest = (passing.payload as VerdictPayload).policy.digest;
    await assert.rejects(
      env.run(a.adoptCandidate, { tenantId, taskId: input.taskId, index, runId: row.runId, policyDigest }),
      refusedAs('RecordMismatchError', /ended CANCELLED: its PASS does not stand/),
    );
  });
});
