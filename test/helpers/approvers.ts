/**
 * Approvers with real OpenSSH keys (ssh-keygen), registered for a tenant the way an operator
 * would, and signed decisions made the way `arbiter approve` makes them — for tests that send
 * updates directly, as an insider with namespace access could.
 */
import { execFileSync } from 'node:child_process';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { decisionClaim, resolveSigner, signDecision, type DecisionTerms } from '../../client/approvals';
import type { SignedDecision } from '../../domain/approval';
import type { WaiverRequest } from '../../domain/waiver';
import { describeError } from '../../client/cli/main';
import { taskWorkflowId } from '../../temporal-config';
import { approveWaiverUpdate, rejectWaiverUpdate } from '../../workflows/definitions';
import { upsertApprover } from '../../db/waivers';
import { keyIdFromPublicKeyText } from '../../host/trust';
import { stringify } from 'yaml';
import { addScriptedAgent, makeRepo, registerRepo, specYaml, uniqueId } from './fixtures';
import { testStack } from './stack';
import { waitForState } from './wait';
import { tempDir } from './temp';

/** A waiver request awaiting one tier-3 approval, for signing decisions outside a running task. */
export const PENDING_WAIVER: WaiverRequest = {
  runId: 'run-1',
  specId: 'FEAT-1',
  treeId: 'a'.repeat(40),
  patchDigest: `sha256:${'b'.repeat(64)}`,
  gates: ['budget'],
  delta: { maxFiles: 1, maxLoc: 0 },
  riskTier: 3,
  approversRequired: 1,
  approvals: [],
  deadline: new Date().toISOString(),
  maxExpiryHours: 168,
};

/** An approver's key pair on disk (OpenSSH format) and its key id. */
export interface TestApprover {
  name: string;
  keyFile: string;
  pubFile: string;
  keyId: string;
}

/** A fresh ed25519 key pair made by ssh-keygen, as an approver would make one. */
export function approverKey(name: string): TestApprover {
  const keyFile = path.join(tempDir('arbiter-key-'), 'id_ed25519');
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', name, '-f', keyFile]);
  const pubFile = `${keyFile}.pub`;
  return { name, keyFile, pubFile, keyId: keyIdFromPublicKeyText(readFileSync(pubFile, 'utf8')) };
}

/** Makes and registers an approver for `tenant` at `tiers`. */
export async function registeredApprover(tenant: string, name: string, tiers = [1, 2, 3]): Promise<TestApprover> {
  const a = approverKey(name);
  await upsertApprover(testStack().database.db, { tenantId: tenant, name, tiers, keyId: a.keyId });
  return a;
}

/** An approval of `pending` signed with `key` (by default claiming to be the key's owner). */
export async function signedApproval(
  task: { tenantId: string; taskId: string },
  pending: WaiverRequest,
  key: TestApprover,
  terms: Partial<DecisionTerms> = {},
): Promise<SignedDecision> {
  const claim = decisionClaim(task, pending, {
    decision: 'approve',
    approver: key.name,
    reasonCode: 'architectural_refactor',
    expiresAt: new Date(Date.now() + 24 * 3_600_000).toISOString(),
    ...terms,
  } as DecisionTerms);
  return signDecision(claim, await resolveSigner(key.keyFile, undefined));
}

const THREE_FILES = [1, 2, 3].map((i) => ({ op: 'write' as const, path: `src/f${i}.js`, content: `${i}\n` }));
const TIER1_SPEC = { risk_tier: 1, contracts: [{ name: 'feature-api', type: 'api' }] };

/**
 * A task paused for a waiver (three files against a two-file budget), with alice and bob
 * registered at every tier and 'tier3-only' at tier 3.
 */
export async function taskAwaitingWaiver(options: { tier1?: boolean; windowHours?: number } = {}) {
  const stack = testStack();
  const tenant = uniqueId('tenant');
  await addScriptedAgent(tenant, THREE_FILES);
  const keys: Record<string, TestApprover> = {
    alice: await registeredApprover(tenant, 'alice'),
    bob: await registeredApprover(tenant, 'bob'),
    'tier3-only': await registeredApprover(tenant, 'tier3-only', [3]),
  };
  const budget = { max_files: 2, max_loc: 100 };
  const policy = {
    version: 1,
    risk_tiers: { '1': budget, '3': budget },
    waivers: { decision_window_hours: options.windowHours ?? 1, max_expiry_days: 7 },
  };
  const repo = makeRepo({ 'src/app.js': 'x\n', '.caws/policy.yaml': stringify(policy) });
  const input = {
    tenantId: tenant,
    taskId: uniqueId('task'),
    specYaml: specYaml(options.tier1 ? TIER1_SPEC : {}),
    repo: await registerRepo(tenant, repo),
  };
  await stack.client.submit(input);
  const waiting = await waitForState(input, (s) => s.subState === 'awaiting_waiver');
  return { stack, tenant, repo, input, waiting, keys };
}

/** Updates that reached the task's history (accepted or completed): a refused decision leaves none. */
export async function updatesInHistory(task: { tenantId: string; taskId: string }): Promise<number> {
  const handle = testStack().client.temporal.workflow.getHandle(taskWorkflowId(task));
  const history = await handle.fetchHistory();
  return (history.events ?? []).filter(
    (e) => e.workflowExecutionUpdateAcceptedEventAttributes || e.workflowExecutionUpdateCompletedEventAttributes,
  ).length;
}

/** Sends `signed` as an insider with namespace access would, and expects the validator to refuse it with `pattern`. */
export async function assertRefused(
  task: { tenantId: string; taskId: string },
  signed: unknown,
  pattern: RegExp,
  update: 'approve' | 'reject' = 'approve',
): Promise<void> {
  const handle = testStack().client.temporal.workflow.getHandle(taskWorkflowId(task));
  const def = update === 'approve' ? approveWaiverUpdate : rejectWaiverUpdate;
  await assert.rejects(handle.executeUpdate(def, { args: [signed as SignedDecision] }), (err: Error) => {
    assert.match(describeError(err), pattern);
    return true;
  });
}

/**
 * A stored waiver approved ahead for `specId` by `approvers` (signed as the desk stores them, in
 * an earlier task's run) and not used yet: what a spec's `waiver_ids` may name.
 */
export async function signedWaiverRow(
  tenantId: string,
  w: { id: string; specId: string; approvers: TestApprover[]; delta?: { maxFiles: number; maxLoc: number } },
) {
  const delta = w.delta ?? { maxFiles: 5, maxLoc: 100 };
  const earlier: WaiverRequest = {
    runId: uniqueId('run'),
    specId: w.specId,
    treeId: 'a'.repeat(40),
    patchDigest: `sha256:${'b'.repeat(64)}`,
    gates: ['budget'],
    delta,
    riskTier: 3,
    approversRequired: w.approvers.length,
    approvals: [],
    deadline: new Date().toISOString(),
    maxExpiryHours: 168,
  };
  const task = { tenantId, taskId: uniqueId('earlier') };
  const approvals = await Promise.all(w.approvers.map((a) => signedApproval(task, earlier, a)));
  return {
    tenantId,
    id: w.id,
    specId: w.specId,
    gates: ['budget'],
    delta: { max_files: delta.maxFiles, max_loc: delta.maxLoc },
    reasonCode: 'architectural_refactor',
    approvals,
    status: 'active',
    expiresAt: new Date(Date.now() + 24 * 3_600_000),
  };
}
