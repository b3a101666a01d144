/**
 * A target repository's trusted policy: the ref that names it — the repository's own git config
 * `arbiter.policyRef`, else the branch its main HEAD names — never the submitter's `baseRef`,
 * which only says where the agent starts. Read when a run starts, and again by delivery to check
 * that a verdict was judged by it.
 */
import * as path from 'node:path';
import { parse as parseYaml } from 'yaml';
import type { PolicyProvenance, TrustedPolicy } from '../domain/activity-io';
import { PolicyInvalidError, TargetRepoError } from '../domain/errors';
import { normaliseRepoPolicy, type RepoPolicy } from '../domain/repo-policy';
import { DELIVERY_BRANCH_PREFIX } from '../temporal-config';
import { sha256 } from './digest';
import { batchObjects, git, gitBytes, GitCommandError, resolveCommit } from './git';
import { assertExists } from './workspace';

/** Where a repository keeps its CAWS policy, in order of preference. */
const POLICY_FILES = ['.caws/policy.yaml', '.caws/policy.yml', '.caws/tier-policy.json'];

/** `arbiter.policyRef` from the repository's config; undefined only when it is not set (any other failure throws). */
async function configuredRef(repoPath: string): Promise<string | undefined> {
  try {
    return (await git(repoPath, ['config', '--get', 'arbiter.policyRef'])).trim() || undefined;
  } catch (err) {
    if (err instanceof GitCommandError && err.exitCode === 1) return undefined;
    throw new TargetRepoError(`cannot read arbiter.policyRef of ${repoPath}: ${(err as Error).message}`);
  }
}

/** The trusted ref and the commit it names now (undefined when it names none). */
interface TrustedTip {
  ref: string;
  commit: string | undefined;
}

/** What HEAD names in a git directory: its commit and full ref name (`HEAD` when detached); neither when unborn. */
interface Head {
  common: string;
  commit?: string;
  ref?: string;
}

const HEAD_ARGS = ['HEAD^{commit}', '--symbolic-full-name', 'HEAD', '--'];

/**
 * The main repository's HEAD — never a linked worktree's, whose HEAD anyone with that worktree
 * checked out could point anywhere. One call answers when `repoPath`'s git directory is the main
 * one (the usual repository); otherwise the main git directory is asked.
 */
async function mainHead(repoPath: string): Promise<Head> {
  const here = await git(repoPath, ['rev-parse', '--git-dir', '--git-common-dir', ...HEAD_ARGS]).catch(() => '');
  const [gitDir, common, commit, ref] = here.split('\n');
  if (ref && path.resolve(repoPath, gitDir) === path.resolve(repoPath, common))
    return { common: path.resolve(repoPath, common), commit, ref };
  const main = await git(repoPath, ['rev-parse', '--git-common-dir']).then(
    (out) => path.resolve(repoPath, out.trim()),
    () => {
      throw new TargetRepoError(`'${repoPath}' is not a git repository`);
    },
  );
  const [mainCommit, mainRef] = (
    await git(main, [`--git-dir=${main}`, 'rev-parse', ...HEAD_ARGS]).catch(() => '')
  ).split('\n');
  return { common: main, commit: mainCommit || undefined, ref: mainRef || undefined };
}

/** The branch the main HEAD names, with its commit (none while the branch is unborn); a detached HEAD names none. */
async function mainBranch(repoPath: string): Promise<TrustedTip> {
  const head = await mainHead(repoPath);
  if (head.ref && head.ref !== 'HEAD') return { ref: head.ref, commit: head.commit };
  const unborn = head.ref
    ? ''
    : (await git(head.common, [`--git-dir=${head.common}`, 'symbolic-ref', '--quiet', 'HEAD']).catch(() => '')).trim();
  if (!unborn)
    throw new TargetRepoError(
      `the HEAD of ${repoPath} is detached, so it names no policy branch: set arbiter.policyRef (git -C ${repoPath} config arbiter.policyRef refs/heads/main)`,
    );
  return { ref: unborn, commit: undefined };
}

/**
 * The ref whose policy governs `repoPath` — `arbiter.policyRef` from its config, else the branch
 * its HEAD names — and its commit now. Outside a repository no config names a ref (the global and
 * system ones are never read), so a path that is no repository is refused by the HEAD read.
 */
async function trustedTip(repoPath: string): Promise<TrustedTip> {
  const configured = await configuredRef(repoPath);
  const tip = configured
    ? { ref: configured, commit: await resolveCommit(repoPath, configured) }
    : await mainBranch(repoPath);
  const { ref } = tip;
  if (ref.startsWith(`refs/heads/${DELIVERY_BRANCH_PREFIX}`) || ref.startsWith(DELIVERY_BRANCH_PREFIX)) {
    throw new TargetRepoError(
      `the policy ref of ${repoPath} is '${ref}', an Arbiter delivery branch: agents' changes never judge themselves; check out or configure the real branch`,
    );
  }
  return tip;
}

/** The first of {@link POLICY_FILES} at `commit`, read with one `cat-file --batch` for all of them. */
async function readPolicyFile(repoPath: string, commit: string): Promise<{ file: string; bytes: Buffer } | undefined> {
  const names = POLICY_FILES.map((file) => `${commit}:${file}`);
  const out = await gitBytes(repoPath, ['cat-file', '--batch'], { input: `${names.join('\n')}\n` });
  const objects = batchObjects(out, names.length);
  const found = objects.findIndex((object) => object?.type === 'blob');
  const object = objects[found];
  return object && { file: POLICY_FILES[found], bytes: object.content };
}

function parsePolicy(file: string, text: string): RepoPolicy {
  try {
    return normaliseRepoPolicy(parseYaml(text));
  } catch (err) {
    throw new PolicyInvalidError(
      err instanceof PolicyInvalidError ? err.problems : [(err as Error).message.split('\n')[0]],
      file,
    );
  }
}

/** The policy at the repository's trusted ref, with where it came from and the digest of its bytes. */
export async function loadTrustedPolicy(repoPath: string): Promise<TrustedPolicy> {
  assertExists(repoPath);
  const { ref, commit } = await trustedTip(repoPath);
  if (!commit) throw new TargetRepoError(`the policy ref '${ref}' of ${repoPath} does not name a commit`);
  const found = await readPolicyFile(repoPath, commit);
  if (!found)
    return {
      policy: normaliseRepoPolicy(undefined),
      provenance: { source: 'default', digest: 'default', file: null, ref, commit },
    };
  const policy = parsePolicy(found.file, found.bytes.toString('utf8'));
  return { policy, provenance: { source: policy.source, digest: sha256(found.bytes), file: found.file, ref, commit } };
}

/** The digest of the policy file at `commit` ('default' when it has none), as {@link loadTrustedPolicy} names it. */
async function policyDigestAt(repoPath: string, commit: string): Promise<string> {
  const found = await readPolicyFile(repoPath, commit);
  return found ? sha256(found.bytes) : 'default';
}

/**
 * Why `claimed` is not `repoPath`'s own policy now, or nothing: it must name the repository's
 * trusted ref, a commit that ref has reached, and the exact bytes of the policy at that commit,
 * which (unless not `atTip`: a delivery already made, asked again) must still be the policy at the
 * ref's tip. Delivery asks this, so a change judged by any other policy never lands: a run judges
 * by the policy it read, and a read may be old (a run in flight when the policy was tightened, a
 * reset, or a read an insider's run made in advance).
 */
export async function policyProblems(
  repoPath: string,
  claimed: PolicyProvenance,
  { atTip }: { atTip: boolean },
): Promise<string[]> {
  const { ref, commit: head } = await trustedTip(repoPath);
  if (claimed.ref !== ref)
    return [`verdict was judged by the policy of '${claimed.ref}', but the repository's trusted ref is '${ref}'`];
  if (!head) return [`the repository's trusted ref '${ref}' names no commit`];
  const reached =
    claimed.commit === head ||
    (await git(repoPath, ['merge-base', '--is-ancestor', claimed.commit, head]).then(
      () => true,
      () => false,
    ));
  if (!reached) return [`verdict's policy commit ${claimed.commit} is not on the trusted ref '${ref}'`];
  const digest = await policyDigestAt(repoPath, claimed.commit);
  if (digest !== claimed.digest)
    return [`verdict's policy digest ${claimed.digest} is not the policy at ${claimed.commit} (${digest})`];
  const now = !atTip || claimed.commit === head ? digest : await policyDigestAt(repoPath, head);
  return now === digest
    ? []
    : [
        `the repository's policy changed since the change was judged (${digest} at ${claimed.commit}, ${now} at '${ref}' now): submit it again, under a new task id, to be judged by it`,
      ];
}
