/** A fixed, valid verdict payload and its statement for the signing and envelope tests (no stack needed). */
import { verdictStatement, type VerdictStatement } from '../../domain/dsse';
import type { VerdictPayload } from '../../domain/verdict';
import type { VerifierFacts } from '../../domain/vsa';

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

/** A fixed verifier for statements built without a worker. */
export const SAMPLE_VERIFIER: VerifierFacts = {
  version: '0.0.0-test',
  defaultPolicyDigest: `sha256:${'f'.repeat(64)}`,
};

/** The signed statement of `payload` (default: the sample) at tier 2 in repository `acme-app`. */
export function sampleStatement(payload: VerdictPayload = SAMPLE_VERDICT_PAYLOAD): VerdictStatement {
  return verdictStatement({
    payload,
    riskTier: 2,
    verifiedAt: '2025-01-02T03:04:05.678Z',
    repo: 'acme-app',
    verifier: SAMPLE_VERIFIER,
  });
}
