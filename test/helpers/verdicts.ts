/** A fixed, valid verdict payload for the signing and envelope tests (no stack needed). */
import type { VerdictPayload } from '../../domain/verdict';

/** What a PASS verdict of task acme/T-1 states; signing it gives a well-formed envelope to tamper with. */
export const SAMPLE_VERDICT_PAYLOAD: VerdictPayload = {
  schema: 'arbiter.verdict/v2',
  tenantId: 'acme',
  taskId: 'T-1',
  run: { workflowId: 'task/acme/T-1', runId: 'run-1' },
  policy: { source: 'default', digest: 'default', file: null, ref: 'refs/heads/main', commit: 'e'.repeat(40) },
  outcome: 'PASS',
  specId: 'S-1',
  specDigest: 'sha256:' + 'a'.repeat(64),
  agentId: 'agent',
  baseCommit: 'b'.repeat(40),
  diff: {
    digest: 'sha256:' + 'c'.repeat(64),
    treeId: 'd'.repeat(40),
    filesChanged: 1,
    linesAdded: 2,
    linesDeleted: 0,
    bytesAdded: 20,
    binaryFiles: 0,
  },
  gates: [{ name: 'budget', kind: 'budget', source: 'arbiter', status: 'pass', detail: 'ok' }],
  waivers: [],
  approvals: [],
};
