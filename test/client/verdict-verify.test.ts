/**
 * `arbiter verdict verify` through the real CLI: it trusts only the keys it was told to trust
 * (`--key` files, or the keyring the operator pinned), refuses when it trusts none, pins the
 * worker's own key only when asked and then loudly, and reports the verification summary a
 * real tier-2 task's verdict states.
 */
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import type { VerdictStatement } from '../../domain/dsse';
import { ARBITER_EVIDENCE_FIELD } from '../../domain/vsa';
import { createVerdictSigner, loadOrCreateSigningKey } from '../../host/signing';
import { defaultSigningKeyFile } from '../../workers/worker';
import { arbiter, cliEnv } from '../helpers/cli';
import { addScriptedAgent, gitIn, GOOD_PLAN, makeRepo, registerRepo, specYaml, uniqueId } from '../helpers/fixtures';
import { opensshLineOf } from '../helpers/python';
import { testStack } from '../helpers/stack';
import { runToEnd } from '../helpers/tasks';
import { tempDir } from '../helpers/temp';
import { sha256 } from '../governance/helpers';

const POLICY = 'version: 1\n';

describe('arbiter verdict verify: a trust root and a SLSA verification summary', function () {
  this.timeout(120_000);
  const dir = tempDir('arbiter-verify-');
  let task: string;
  let repo: string;
  let repoName: string;
  let base: string;
  let workerKey: string;
  let envelopeFile: string;
  let startedAt: number;

  before(async () => {
    const tenant = uniqueId('verify');
    await addScriptedAgent(tenant, GOOD_PLAN);
    repo = makeRepo({ 'src/app.js': 'module.exports = 1;\n', '.caws/policy.yaml': POLICY });
    base = gitIn(repo, 'rev-parse', 'HEAD');
    const spec = specYaml({ risk_tier: 2, contracts: [{ name: 'api', type: 'api' }] });
    const input = {
      tenantId: tenant,
      taskId: uniqueId('task'),
      specYaml: spec,
      repo: (repoName = await registerRepo(tenant, repo)),
    };
    startedAt = Date.now();
    const final = await runToEnd(input);
    assert.equal(final.state, 'COMPLETED', JSON.stringify(final.error));
    task = `${tenant}/${input.taskId}`;
    workerKey = `${defaultSigningKeyFile(testStack().home)}.pub`;
    const shown = await arbiter(['verdict', 'show', task], cliEnv());
    envelopeFile = path.join(dir, 'verdict.json');
    writeFileSync(envelopeFile, shown.stdout);
  });

  /** A CLI environment with a fresh ARBITER_HOME (no keyring) whose worker signing key is the stack's. */
  function env(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
    return { ...cliEnv(), ARBITER_SIGNING_KEY_FILE: defaultSigningKeyFile(testStack().home), ...extra };
  }

  function otherKey(): string {
    const file = path.join(dir, `${uniqueId('other')}.pub`);
    writeFileSync(file, generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'pem' }));
    return file;
  }

  it('with no trusted key it refuses, says how to trust one, and never falls back to the worker key beside it', async () => {
    const e = env();
    const res = await arbiter(['verdict', 'verify', task], e);
    assert.equal(res.code, 1, res.stdout);
    assert.equal(res.stdout, '');
    const keyring = path.join(String(e.ARBITER_HOME), 'trusted-keys');
    assert.match(res.stderr, new RegExp(`no trusted key: ${keyring} is missing or empty`));
    assert.match(res.stderr, /pass --key FILE .* --trust-worker-key/);
    assert.equal(existsSync(keyring), false, 'nothing was pinned');
    const fromFile = await arbiter(['verdict', 'verify', envelopeFile], e);
    assert.equal(fromFile.code, 1);
  });

  it('refuses a genuine verdict when the trusted key is another one, from --key or from the keyring', async () => {
    const viaKey = await arbiter(['verdict', 'verify', task, '--key', otherKey()], env());
    assert.equal(viaKey.code, 1);
    assert.match(viaKey.stderr, /verdict INVALID:\n {2}- signed by ed25519:\S+, which is not a trusted key/);
    const keyring = path.join(dir, uniqueId('ring'));
    writeFileSync(keyring, readFileSync(otherKey()));
    const viaRing = await arbiter(['verdict', 'verify', envelopeFile], env({ ARBITER_TRUSTED_KEYS: keyring }));
    assert.equal(viaRing.code, 1);
    assert.match(viaRing.stderr, /which is not a trusted key/);
  });

  it('refuses a verdict an attacker re-signed with their own key, though the operator trusts both ids it names', async () => {
    const envelope = JSON.parse(readFileSync(envelopeFile, 'utf8'));
    const statement = JSON.parse(Buffer.from(envelope.payload, 'base64').toString('utf8')) as VerdictStatement;
    statement.predicate[ARBITER_EVIDENCE_FIELD].agentId = 'someone-else';
    const attacker = createVerdictSigner(generateKeyPairSync('ed25519').privateKey);
    const forged = JSON.parse(attacker.signStatement(statement).envelope);
    forged.signatures[0].keyid = envelope.signatures[0].keyid;
    const file = path.join(dir, 'forged.json');
    writeFileSync(file, JSON.stringify(forged));
    const res = await arbiter(['verdict', 'verify', file, '--key', workerKey], env());
    assert.equal(res.code, 1);
    assert.match(res.stderr, /signature does not verify/);
  });

  // Found in review: an untrusted file's 10,000 approvals held the verifier 29 s, each checked; one
  // nested 20,000 deep crashed it with no --json output; a file's size was not bounded.
  it('reads nothing more of a file no trusted key signed, and refuses one too large to be a verdict', async () => {
    const envelope = JSON.parse(readFileSync(envelopeFile, 'utf8'));
    const statement = JSON.parse(Buffer.from(envelope.payload, 'base64').toString('utf8')) as VerdictStatement;
    statement.predicate[ARBITER_EVIDENCE_FIELD].approvals = ['DEEP'] as never;
    const deep = `${'['.repeat(20_000)}${']'.repeat(20_000)}`;
    const payload = Buffer.from(JSON.stringify(statement).replace('"DEEP"', deep)).toString('base64');
    // Signed by nobody the verifier trusts: a key id of no trusted key, any signature.
    const forged = { ...envelope, payload, signatures: [{ ...envelope.signatures[0], keyid: 'ed25519:attacker' }] };
    const file = path.join(dir, 'untrusted-deep.json');
    writeFileSync(file, JSON.stringify(forged));
    const res = await arbiter(['verdict', 'verify', file, '--key', workerKey, '--json'], env());
    assert.equal(res.code, 1, res.stderr);
    const report = JSON.parse(res.stdout) as { problems: string[] };
    assert.ok(report.problems.length > 0 && report.problems.every((p) => /key|signature/.test(p)), res.stdout);

    const huge = path.join(dir, 'huge.json');
    writeFileSync(huge, Buffer.alloc(17 * 1024 * 1024, 0x20));
    const big = await arbiter(['verdict', 'verify', huge, '--key', workerKey], env());
    assert.equal(big.code, 2);
    assert.match(big.stderr, /larger than 16777216 bytes/);
  });

  it('--tenant binds a verdict file only with --task: alone, it is refused, not ignored', async () => {
    const res = await arbiter(['verdict', 'verify', envelopeFile, '--tenant', 'acme', '--key', workerKey], env());
    assert.equal(res.code, 2);
    assert.match(res.stderr, /--tenant binds a verdict file only with --task/);
  });

  it('refuses a summary that disagrees with its evidence, even signed by a trusted key', async () => {
    const envelope = JSON.parse(readFileSync(envelopeFile, 'utf8'));
    const statement = JSON.parse(Buffer.from(envelope.payload, 'base64').toString('utf8')) as VerdictStatement;
    statement.predicate[ARBITER_EVIDENCE_FIELD].outcome = 'FAIL';
    const keyFile = path.join(dir, uniqueId('k'), 'k.pem');
    const signer = createVerdictSigner(loadOrCreateSigningKey(keyFile));
    const file = path.join(dir, 'inconsistent.json');
    writeFileSync(file, signer.signStatement(statement).envelope);
    const res = await arbiter(['verdict', 'verify', file, '--key', `${keyFile}.pub`], env());
    assert.equal(res.code, 1);
    assert.match(res.stderr, /verificationResult is "PASSED", expected "FAILED"/);
    assert.match(res.stderr, /verifiedLevels is \["CAWS_TIER_2"\], expected \["FAILED"\]/);
  });

  it('accepts the worker key given as an OpenSSH ssh-ed25519 line, and refuses a private key given as --key', async () => {
    const sshFile = path.join(dir, 'worker.ssh.pub');
    writeFileSync(sshFile, `${await opensshLineOf(workerKey, 'arbiter-worker')}\n`);
    const res = await arbiter(['verdict', 'verify', task, '--key', otherKey(), '--key', sshFile, '--json'], env());
    assert.equal(res.code, 0, res.stderr);
    assert.equal(JSON.parse(res.stdout).trustedKey, `${sshFile}:1`);
    const priv = await arbiter(['verdict', 'verify', task, '--key', defaultSigningKeyFile(testStack().home)], env());
    assert.equal(priv.code, 1);
    assert.match(priv.stderr, /expected a PEM public key/);
    const missing = await arbiter(['verdict', 'verify', task, '--key', path.join(dir, 'no-such.pub')], env());
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /key file '.*no-such\.pub' does not exist/);
  });

  it('accepts a key from the pinned keyring, comments and both formats, and refuses a keyring with a bad line', async () => {
    const keyring = path.join(dir, uniqueId('ring'));
    const ring = `# verdict signers\n${await opensshLineOf(otherKey(), 'old')}\n\n# the worker\n${readFileSync(workerKey, 'utf8')}`;
    writeFileSync(keyring, ring);
    const res = await arbiter(['verdict', 'verify', task, '--json'], env({ ARBITER_TRUSTED_KEYS: keyring }));
    assert.equal(res.code, 0, res.stderr);
    assert.equal(JSON.parse(res.stdout).trustedKey, `${keyring}:5`);
    writeFileSync(keyring, `${ring}ssh-ed25519 not-base64!\n`);
    const bad = await arbiter(['verdict', 'verify', task], env({ ARBITER_TRUSTED_KEYS: keyring }));
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, new RegExp(`${keyring}:8: not an 'ssh-ed25519 <base64> \\[comment\\]' line`));
  });

  it('a keyring that came with the checkout it runs in is not a trust root; one the operator put there is', async () => {
    const { ARBITER_HOME: _home, ...noHome } = env();
    const checkout = makeRepo({
      'README.md': '# a repository\n',
      '.arbiter/trusted-keys': readFileSync(workerKey, 'utf8'),
    });
    const refused = await arbiter(['verdict', 'verify', envelopeFile], noHome, 90_000, checkout);
    assert.equal(refused.code, 2, refused.stdout);
    assert.match(
      refused.stderr,
      /\.arbiter\/trusted-keys is tracked by git: a keyring that comes with a checkout is not a trust root/,
    );
    // A checkout git will not read (another user's, here) may be tracked all the same: refused too.
    const foreign = makeRepo({ 'README.md': '# theirs\n', '.arbiter/trusted-keys': readFileSync(workerKey, 'utf8') });
    execFileSync('chown', ['-R', '12345:12345', foreign]);
    const unknown = await arbiter(['verdict', 'verify', envelopeFile], noHome, 90_000, foreign);
    assert.equal(unknown.code, 2, unknown.stdout);
    assert.match(
      unknown.stderr,
      /trusted-keys may be tracked by git, which could not tell \(fatal: detected dubious ownership/,
    );
    const ownFolder = tempDir('arbiter-operator-');
    mkdirSync(path.join(ownFolder, '.arbiter'));
    writeFileSync(path.join(ownFolder, '.arbiter', 'trusted-keys'), readFileSync(workerKey, 'utf8'));
    const trusted = await arbiter(['verdict', 'verify', envelopeFile], noHome, 90_000, ownFolder);
    assert.equal(trusted.code, 0, trusted.stderr);
  });

  it('a file named like the task does not stand in for its stored verdict: a file is a path', async () => {
    const folder = tempDir('arbiter-cwd-');
    const [tenant, taskId] = task.split('/');
    writeFileSync(path.join(folder, taskId), 'not the stored verdict');
    const res = await arbiter(
      ['verdict', 'verify', taskId, '--tenant', tenant, '--key', workerKey],
      env(),
      90_000,
      folder,
    );
    assert.equal(res.code, 0, res.stderr);
    const file = await arbiter(['verdict', 'verify', `./${taskId}`, '--key', workerKey], env(), 90_000, folder);
    assert.equal(file.code, 1, 'read as the file it names');
    // A submitter may choose a task id ending in .json: it is still the task, not a file beside it.
    mkdirSync(path.join(folder, tenant));
    writeFileSync(path.join(folder, tenant, `${taskId}.json`), readFileSync(envelopeFile, 'utf8'));
    const named = await arbiter(
      ['verdict', 'verify', `${tenant}/${taskId}.json`, '--key', workerKey],
      env(),
      90_000,
      folder,
    );
    assert.equal(named.code, 1, named.stdout);
    assert.match(named.stderr, new RegExp(`${taskId}\\.json`), 'the stored verdict of that task was asked for');
    assert.match(named.stderr, new RegExp(`to check the file ${tenant}/${taskId}\\.json, name it as a path: \\./`));
  });

  it('--trust-worker-key pins the worker key into the keyring under a loud banner, once', async () => {
    const e = env();
    const keyring = path.join(String(e.ARBITER_HOME), 'trusted-keys');
    const first = await arbiter(['verdict', 'verify', task, '--trust-worker-key'], e);
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stderr, /!!!!\n!! TRUST ON FIRST USE: this worker key is now trusted/);
    const keyId = JSON.parse(readFileSync(envelopeFile, 'utf8')).signatures[0].keyid as string;
    assert.ok(first.stderr.includes(keyId), 'the banner names the key id');
    assert.ok(first.stderr.includes(keyring), 'and the keyring');
    assert.match(first.stderr, /proven: {2}by the signing key beside it/);
    assert.match(readFileSync(keyring, 'utf8'), /^ssh-ed25519 AAAA\S+ arbiter-worker-key pinned-on-first-use \S+\n$/);
    const later = await arbiter(['verdict', 'verify', task], e);
    assert.equal(later.code, 0, later.stderr);
    assert.equal(later.stderr, '', 'once pinned, verification is quiet');
    const again = await arbiter(['verdict', 'verify', task, '--trust-worker-key'], e);
    assert.doesNotMatch(again.stderr, /TRUST ON FIRST USE/);
    assert.match(again.stderr, /already trusted/);
    const both = await arbiter(['verdict', 'verify', task, '--trust-worker-key', '--key', workerKey], e);
    assert.equal(both.code, 2, 'pinning and --key together is a usage error');
  });

  it('--trust-worker-key pins nothing when the .pub beside the signing key names another key', async () => {
    // Whoever can write the .pub but not the signing key would have had their own key pinned.
    const folder = path.join(dir, uniqueId('swapped'));
    mkdirSync(folder);
    const signingKey = path.join(folder, 'verdict-signing.pem');
    copyFileSync(defaultSigningKeyFile(testStack().home), signingKey);
    writeFileSync(`${signingKey}.pub`, readFileSync(otherKey()));
    const e = env({ ARBITER_SIGNING_KEY_FILE: signingKey });
    const keyring = path.join(String(e.ARBITER_HOME), 'trusted-keys');
    const res = await arbiter(['verdict', 'verify', task, '--trust-worker-key'], e);
    assert.equal(res.code, 1, res.stdout);
    assert.match(
      res.stderr,
      /verdict-signing\.pem\.pub names ed25519:\S+, but the signing key \S+ is ed25519:\S+: one of them was replaced; nothing pinned/,
    );
    assert.doesNotMatch(res.stderr, /TRUST ON FIRST USE/);
    assert.equal(existsSync(keyring), false, 'nothing pinned');

    // A signing key made unparseable beside the swapped .pub proves nothing and pins nothing.
    writeFileSync(signingKey, 'not a key\n');
    const garbage = await arbiter(['verdict', 'verify', task, '--trust-worker-key'], e);
    assert.equal(garbage.code, 1, garbage.stdout);
    assert.match(garbage.stderr, /verdict-signing\.pem: not a signing key the worker could use/);
    assert.equal(existsSync(keyring), false, 'nothing pinned');

    // Only the .pub here (the CLI on another host than the worker): pinned, the banner saying it is unproven.
    writeFileSync(`${signingKey}.pub`, readFileSync(workerKey));
    unlinkSync(signingKey);
    const unproven = await arbiter(['verdict', 'verify', task, '--trust-worker-key'], e);
    assert.equal(unproven.code, 0, unproven.stderr);
    assert.match(unproven.stderr, /NOT proven: the signing key \S+ could not be read here \(ENOENT\)/);
    assert.match(unproven.stderr, /Whoever could write that \.pub file chose this key/);
  });

  it('reports the verification summary: PASSED at CAWS_TIER_2, the repository at its base, the policy by digest', async () => {
    const res = await arbiter(['verdict', 'verify', task, '--key', workerKey, '--json'], env());
    assert.equal(res.code, 0, res.stderr);
    const out = JSON.parse(res.stdout);
    const tenant = task.split('/')[0];
    assert.equal(out.verificationResult, 'PASSED');
    assert.deepEqual(out.verifiedLevels, ['CAWS_TIER_2']);
    assert.equal(out.resourceUri, `arbiter://${tenant}/${repoName}@${base}`, 'the registered name, never a path');
    assert.deepEqual(out.policy, {
      uri: `arbiter://${tenant}/${repoName}@${base}#.caws/policy.yaml`,
      digest: { sha256: sha256(POLICY).slice('sha256:'.length) },
    });
    const verified = Date.parse(out.timeVerified);
    assert.ok(
      verified >= startedAt - 1000 && verified <= Date.now(),
      `timeVerified ${out.timeVerified} is during the task`,
    );
    const shown = JSON.parse((await arbiter(['verdict', 'show', task, '--json'], env())).stdout);
    assert.equal(shown.statement.predicateType, 'https://slsa.dev/verification_summary/v1');
    assert.equal(shown.statement.predicate.verifier.id, 'https://arbiter.dev/verifier');
    assert.match(shown.statement.predicate.verifier.version.arbiter, /^\d+\.\d+\.\d+/);
    assert.equal(shown.statement.predicate[ARBITER_EVIDENCE_FIELD].outcome, 'PASS');
    const human = await arbiter(['verdict', 'verify', task, '--key', workerKey], env());
    assert.match(human.stdout, new RegExp(`^verdict OK: PASSED CAWS_TIER_2 \\(PASS\\) for ${task} at arbiter://`));
  });
});
