/**
 * What Arbiter states about itself as a verifier: its version (from package.json) and the
 * digest of the built-in policy it judges repositories without a policy file by. Read once per
 * process; a worker upgraded between two attempts of one run's verdict signs different bytes,
 * and `issueVerdict` refuses rather than replace the stored verdict.
 */
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { DEFAULT_REPO_POLICY } from '../domain/repo-policy';
import { canonicalJson } from '../domain/canonical';
import type { VerifierFacts } from '../domain/vsa';
import { sha256 } from './digest';

let facts: VerifierFacts | undefined;

/** This installation's verifier facts (lib/host/ sits two levels below package.json). */
export function verifierFacts(): VerifierFacts {
  if (!facts) {
    const pkg = JSON.parse(readFileSync(path.join(__dirname, '..', '..', 'package.json'), 'utf8')) as {
      version: string;
    };
    facts = { version: pkg.version, defaultPolicyDigest: sha256(canonicalJson(DEFAULT_REPO_POLICY)) };
  }
  return facts;
}
