/**
 * Approvers with real OpenSSH keys (ssh-keygen), registered for a tenant the way an operator
 * would, and signed decisions made the way `arbiter approve` makes them — for tests that send
 * updates directly, as an insider with namespace access could.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { decisionClaim, resolveSigner, signDecision, type DecisionTerms } from '../../client/approvals';
import type { SignedDecision } from '../../domain/approval';
import type { WaiverRequest } from '../../domain/waiver';
import { upsertApprover } from '../../db/waivers';
import { keyIdFromPublicKeyText } from '../../host/ssh-keys';
import { testStack } from './stack';
import { tempDir } from './temp';

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
