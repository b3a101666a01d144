/**
 * Judging candidates by evidence: PASS, then a pass by waiver, before FAIL, before no verdict;
 * then fewer warnings, fewer lines, fewer files, lower cost, fewer tokens, less time, lower
 * index; with the reason spelled out. And who may set a candidate's fields.
 */
import assert from 'node:assert/strict';
import {
  candidateInputProblem,
  candidateTaskId,
  rankCandidates,
  type CandidateEvidence,
} from '../../domain/candidates';
import { TaskInputSchema, TaskRunInputSchema } from '../../domain/task';

function candidate(index: number, outcome?: 'PASS' | 'WAIVED' | 'FAIL', extra: Partial<CandidateEvidence> = {}) {
  const verdict = outcome
    ? { outcome, digest: `d${index}`, diffDigest: `p${index}`, filesChanged: 1, linesChanged: 10, warnings: 0 }
    : undefined;
  return {
    index,
    taskId: `t.candidate-${index}`,
    runId: `r${index}`,
    agentId: `a${index}`,
    state: outcome ? 'COMPLETED' : 'FAILED',
    ...(verdict ? { verdict } : {}),
    tokens: 100,
    costUsd: 0.01,
    seconds: 30,
    ...extra,
  } satisfies CandidateEvidence;
}

describe('ranking candidates', () => {
  it('PASS before WAIVED before FAIL before no verdict, whatever the order given', () => {
    const all = [candidate(1), candidate(2, 'FAIL'), candidate(3, 'WAIVED'), candidate(4, 'PASS')];
    const { ranked, reason } = rankCandidates(all);
    assert.deepEqual(
      ranked.map((c) => c.index),
      [4, 3, 2, 1],
    );
    assert.match(
      reason,
      /^candidate 4 \(a4\): PASS; candidate 3 passed only by a waiver; candidate 2 did not pass; candidate 1 ended FAILED without a verdict$/,
    );
    assert.deepEqual(rankCandidates([...all].reverse()).ranked, ranked);
  });

  it('among passes: fewer warnings, then fewer lines, files, cost, tokens, time; then the lower index', () => {
    const base = (i: number, v: Partial<NonNullable<CandidateEvidence['verdict']>>, extra = {}) => {
      const c = candidate(i, 'PASS', extra);
      return { ...c, verdict: { ...c.verdict!, ...v } };
    };
    const pairs: Array<[CandidateEvidence, CandidateEvidence, RegExp]> = [
      [base(2, { warnings: 0 }), base(1, { warnings: 2 }), /more warnings/],
      [base(2, { linesChanged: 5 }), base(1, { linesChanged: 50 }), /changed more lines/],
      [base(2, { filesChanged: 1 }), base(1, { filesChanged: 3 }), /changed more files/],
      [base(2, {}, { costUsd: 0.001 }), base(1, {}, { costUsd: 0.5 }), /cost more/],
      [base(2, {}, { tokens: 10 }), base(1, {}, { tokens: 1000 }), /more tokens/],
      [base(2, {}, { seconds: 5 }), base(1, {}, { seconds: 50 }), /took longer/],
      [base(1, {}), base(2, {}), /ties and comes later/],
    ];
    for (const [better, worse, why] of pairs) {
      const { ranked, reason } = rankCandidates([worse, better]);
      assert.equal(ranked[0].index, better.index, String(why));
      assert.match(reason, why);
    }
  });
});

describe('candidate fields', () => {
  const input = { tenantId: 'acme', taskId: 'x', specYaml: 'id: X-1\n', repo: 'r' };

  it('a candidate id is reserved, and only a task sets candidateOf', () => {
    const candidateId = candidateTaskId('x', 1);
    assert.match(JSON.stringify(TaskInputSchema.safeParse({ ...input, taskId: candidateId }).error), /reserved/);
    const asCandidate = { ...input, taskId: candidateId, candidateOf: { taskId: 'x', index: 1 } };
    assert.match(JSON.stringify(TaskInputSchema.safeParse(asCandidate).error), /set only by a task/);
    assert.ok(TaskRunInputSchema.safeParse(asCandidate).success, 'a run checks its parent instead');
    assert.ok(!TaskRunInputSchema.safeParse({ ...asCandidate, taskId: candidateTaskId('x', 2) }).success);
    assert.ok(!TaskRunInputSchema.safeParse({ ...asCandidate, candidates: 2 }).success, 'a candidate runs none');
  });

  it('refuses a task id too long to name its candidates', () => {
    const problem = candidateInputProblem({ taskId: 'x'.repeat(120), candidates: 2 }, false);
    assert.match(problem?.message ?? '', /at most 116 characters/);
    assert.equal(candidateInputProblem({ taskId: 'x'.repeat(120) }, false), undefined);
  });
});
