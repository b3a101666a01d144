/**
 * Attack: an insider's workflow of its own validating a lax spec, having the change judged by it,
 * then validating the reviewed spec and asking for a verdict that names the reviewed one. Before
 * migration 0025 the run could replace its own spec, and gate rows named the tree but not the
 * spec: a tier-1 PASS was signed over an acceptance test run as `true` (same run, or borrowed
 * from another run of the task). A spec is now stored once per run, and each row names its spec.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import type { DiffSummary, IssuedVerdict, PreparedWorkspace, ValidateSpecResult } from '../../domain/activity-io';
import type { GateResult } from '../../domain/task';
import { eq } from 'drizzle-orm';
import { gateResults } from '../../db/schema';
import { specYaml } from '../helpers/fixtures';
import { testStack } from '../helpers/stack';
import { recordRouted } from '../helpers/tasks';
import { gate, insiderRun, policyCheck, POLICY, refusedAs, runOf, TESTS, verdictOf, type Run } from './insider-run';

const scope = { in: ['src/', 'test/'], out: [] };
const LAX = specYaml({ scope, acceptance: [{ id: 'A1', given: 'g', when: 'w', then: 't', test_command: 'true' }] });
const REVIEWED = specYaml({
  scope,
  acceptance: [{ id: 'A1', given: 'g', when: 'w', then: 't', test_command: 'exit 1' }],
});

/** Arbiter's gates and the policy's tests judged in `r`, and its acceptance test run as `argv`. */
async function judged(r: Run, argv: string[]): Promise<GateResult[]> {
  const checked = await policyCheck(r);
  return [...checked, await gate(r, 'tests', TESTS), await gate(r, 'acceptance-A1', argv, 'acceptance')];
}

/** As the reviewed spec would state its acceptance test. */
const asReviewed = (gates: GateResult[]) =>
  gates.map((g) => (g.name === 'acceptance-A1' ? { ...g, argv: ['sh', '-c', 'exit 1'] } : g));

describe('governance: a verdict names the spec its gates were judged by', function () {
  this.timeout(120_000);

  it('validateSpec refuses a second, different spec in the same run, and takes the same one again', async () => {
    const r = await insiderRun({ gates: POLICY.gates }, { spec: LAX });
    const again: ValidateSpecResult = await r.env.run(r.a.validateSpec, { ...r.ref, specYaml: LAX });
    assert.deepEqual(again.specRef, r.validated.specRef, 'a retry finds its spec stored');
    await assert.rejects(
      r.env.run(r.a.validateSpec, { ...r.ref, specYaml: REVIEWED }),
      refusedAs('RecordMismatchError', /is stored already, by another task or run or with other content/),
    );
  });

  it("issueVerdict refuses gate results another run judged by another spec, and takes a same spec's", async () => {
    const lax = await insiderRun({ gates: POLICY.gates }, { spec: LAX });
    const gates = await judged(lax, ['sh', '-c', 'true']);
    assert.ok(
      gates.every((g) => g.status === 'pass'),
      JSON.stringify(gates),
    );
    const reviewed = runOf(lax.ref);
    await reviewed.env.run(lax.a.loadRepoPolicy, { ...lax.ref, repoPath: lax.repoPath });
    const validated: ValidateSpecResult = await reviewed.env.run(lax.a.validateSpec, {
      ...lax.ref,
      specYaml: REVIEWED,
    });
    const verdict = { ...verdictOf(lax, asReviewed(gates)), specDigest: validated.specDigest };
    await assert.rejects(
      reviewed.env.run(lax.a.issueVerdict, verdict),
      refusedAs('RecordMismatchError', /gate budget: judged by spec sha256:\S+, not by the spec the verdict names/),
    );
    // The same spec validated again (a reset before validation) may stand on its predecessor's results.
    const again = runOf(lax.ref);
    await recordRouted({ ...lax.ref, runId: again.runId });
    await again.env.run(lax.a.loadRepoPolicy, { ...lax.ref, repoPath: lax.repoPath });
    await again.env.run(lax.a.validateSpec, { ...lax.ref, specYaml: LAX });
    const signed: IssuedVerdict = await again.env.run(lax.a.issueVerdict, verdictOf(lax, gates));
    assert.equal(signed.outcome, 'PASS');
  });

  it('results stored before migration 0025, naming no spec, count as fixed by the spec their own run validated', async () => {
    const lax = await insiderRun({ gates: POLICY.gates }, { spec: LAX });
    const gates = await judged(lax, ['sh', '-c', 'true']);
    const { db } = testStack().database;
    await db.update(gateResults).set({ specDigest: null }).where(eq(gateResults.taskId, lax.ref.taskId));
    const reviewed = runOf(lax.ref);
    await reviewed.env.run(lax.a.loadRepoPolicy, { ...lax.ref, repoPath: lax.repoPath });
    const validated: ValidateSpecResult = await reviewed.env.run(lax.a.validateSpec, {
      ...lax.ref,
      specYaml: REVIEWED,
    });
    await assert.rejects(
      reviewed.env.run(lax.a.issueVerdict, { ...verdictOf(lax, asReviewed(gates)), specDigest: validated.specDigest }),
      refusedAs('RecordMismatchError', /gate budget: judged by spec sha256:\S+, not by the spec the verdict names/),
    );
    const signed: IssuedVerdict = await lax.env.run(lax.a.issueVerdict, verdictOf(lax, gates));
    assert.equal(signed.outcome, 'PASS', 'the run that stored them signs by them');
  });

  // Before: such a row named no spec, so a run validating the reviewed spec later could borrow it.
  it('runGate refuses an acceptance gate while no run of the task validated a spec', async () => {
    const r = await insiderRun({ gates: POLICY.gates }, { spec: LAX });
    const ref = { tenantId: r.ref.tenantId, taskId: `${r.ref.taskId}-unvalidated` };
    const early = runOf(ref);
    await recordRouted({ ...ref, runId: early.runId });
    await early.env.run(r.a.loadRepoPolicy, { ...ref, repoPath: r.repoPath });
    const ws: PreparedWorkspace = await early.env.run(r.a.prepareWorkspace, { ...ref, repoPath: r.repoPath });
    writeFileSync(path.join(ws.workspacePath, 'src', 'app.js'), 'module.exports = 2;\n');
    const at = { ...ref, workspacePath: ws.workspacePath, baseCommit: ws.baseCommit };
    const diff: DiffSummary = await early.env.run(r.a.measureDiff, at);
    const acceptance = { name: 'acceptance-A1', argv: ['true'], timeoutSeconds: 60 };
    const run = { ...at, treeId: diff.treeId, gate: acceptance, source: 'acceptance' as const, mode: 'block' as const };
    await assert.rejects(
      early.env.run(r.a.runGate, run),
      refusedAs('PolicyMismatchError', /acceptance-A1: no run of the task validated a spec on a worker/),
    );
  });

  it("issueVerdict refuses a gate's exit code other than the stored one", async () => {
    const r = await insiderRun({ gates: POLICY.gates }, { spec: LAX });
    const gates = await judged(r, ['sh', '-c', 'true']);
    const tests = gates.find((g) => g.name === 'tests')!;
    const restated = (change: Partial<GateResult>) =>
      verdictOf(
        r,
        gates.map((g) => (g === tests ? { ...g, ...change } : g)),
      );
    await assert.rejects(
      r.env.run(r.a.issueVerdict, restated({ exitCode: 3 })),
      refusedAs('RecordMismatchError', /gate tests: stored with exit code 0, handed over with 3/),
    );
    const signed: IssuedVerdict = await r.env.run(r.a.issueVerdict, verdictOf(r, gates));
    assert.equal(signed.outcome, 'PASS');
  });
});
