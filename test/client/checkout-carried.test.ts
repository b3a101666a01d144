/**
 * Run inside a repository, Arbiter's default home is the checkout's `./.arbiter`: a key pair or a
 * stack description committed there was chosen by whoever could commit, who holds the private
 * half. The CLI pins no such key, reads no such stack, and the worker signs with no such key.
 */
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { generateKeyPairSync } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { HomeChosenByOthersError, KeyChosenByOthersError } from '../../domain/errors';
import { carriedHomeReason, checkoutCarriedReason } from '../../host/checkout-carried';
import { createArbiterWorker } from '../../workers/worker';
import { arbiter, cliEnv } from '../helpers/cli';
import { makeRepo } from '../helpers/fixtures';
import { testStack } from '../helpers/stack';
import { tempDir } from '../helpers/temp';

/** An attacker's key pair, as the worker would have written it under `keys/`. */
function keyPairFiles(prefix = '.arbiter/keys/'): Record<string, string> {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return {
    [`${prefix}verdict-signing.pem`]: String(privateKey.export({ type: 'pkcs8', format: 'pem' })),
    [`${prefix}verdict-signing.pem.pub`]: String(publicKey.export({ type: 'spki', format: 'pem' })),
  };
}

/** The CLI's environment with no ARBITER_HOME: the home is `./.arbiter` of where it runs. */
function homeless(): NodeJS.ProcessEnv {
  const { ARBITER_HOME: _home, ...env } = cliEnv();
  return { ...env, ARBITER_HOME: '' };
}

/** A verdict file: any will do, the key is pinned (or refused) before it is read. */
function someVerdict(): string {
  const file = path.join(tempDir('arbiter-carried-'), 'verdict.json');
  writeFileSync(file, '{}');
  return file;
}

/** A worker of the test stack whose home (not named by the operator) is `home`. */
function workerWithHome(home: string) {
  const stack = testStack();
  return createArbiterWorker({
    connection: stack.env.nativeConnection,
    namespace: 'default',
    taskQueue: 'unused',
    database: stack.database,
    home,
    workflowBundle: stack.bundle,
  });
}

describe('files that came with a checkout are no trust root', function () {
  this.timeout(120_000);

  it('--trust-worker-key pins no key pair committed to the repository, though its halves agree', async () => {
    const checkout = makeRepo({ 'README.md': '# theirs\n', ...keyPairFiles() });
    const res = await arbiter(['verdict', 'verify', someVerdict(), '--trust-worker-key'], homeless(), 90_000, checkout);
    assert.equal(res.code, 1, res.stdout);
    assert.match(
      res.stderr,
      /verdict-signing\.pem\.pub is tracked by git: a worker key others may have chosen is not pinned/,
    );
    assert.doesNotMatch(res.stderr, /TRUST ON FIRST USE/);
    assert.equal(existsSync(path.join(checkout, '.arbiter', 'trusted-keys')), false, 'nothing pinned');
  });

  it('nor one linked in from a folder git ignores, nor a .pub others may write', async () => {
    const linked = makeRepo({ 'README.md': '# theirs\n', '.gitignore': 'vendor/\n' });
    for (const [file, text] of Object.entries(keyPairFiles('vendor/pkg/keys/'))) {
      mkdirSync(path.dirname(path.join(linked, file)), { recursive: true });
      writeFileSync(path.join(linked, file), text);
    }
    mkdirSync(path.join(linked, '.arbiter'));
    symlinkSync(path.join(linked, 'vendor', 'pkg', 'keys'), path.join(linked, '.arbiter', 'keys'));
    const viaLink = await arbiter(
      ['verdict', 'verify', someVerdict(), '--trust-worker-key'],
      homeless(),
      90_000,
      linked,
    );
    assert.equal(viaLink.code, 1, viaLink.stdout);
    assert.match(viaLink.stderr, /is reached through the symlink \S+\.arbiter\/keys/);

    const own = tempDir('arbiter-operator-');
    for (const [file, text] of Object.entries(keyPairFiles())) {
      mkdirSync(path.dirname(path.join(own, file)), { recursive: true });
      writeFileSync(path.join(own, file), text);
    }
    chmodSync(path.join(own, '.arbiter', 'keys', 'verdict-signing.pem.pub'), 0o666);
    const writable = await arbiter(['verdict', 'verify', someVerdict(), '--trust-worker-key'], homeless(), 90_000, own);
    assert.equal(writable.code, 1, writable.stdout);
    assert.match(writable.stderr, /verdict-signing\.pem\.pub is writable by others \(mode 666\)/);
    // The same files, the operator's own and private, are pinned as proven.
    chmodSync(path.join(own, '.arbiter', 'keys', 'verdict-signing.pem.pub'), 0o644);
    const pinned = await arbiter(['verdict', 'verify', someVerdict(), '--trust-worker-key'], homeless(), 90_000, own);
    assert.match(pinned.stderr, /TRUST ON FIRST USE[\s\S]*proven: {2}by the signing key beside it/);
  });

  it('a stack description committed to the repository is not used', async () => {
    const stack = JSON.stringify({ temporalAddress: '203.0.113.9:7233', databaseUrl: 'postgres://x@203.0.113.9/x' });
    const checkout = makeRepo({ 'README.md': '# theirs\n', '.arbiter/stack.json': stack });
    const { TEMPORAL_ADDRESS: _t, DATABASE_URL: _d, ...env } = homeless();
    const res = await arbiter(['status', 'T-1'], env, 90_000, checkout);
    assert.equal(res.code, 1, res.stdout);
    assert.match(
      res.stderr,
      /stack\.json is tracked by git: a stack description that comes with a checkout is not used/,
    );
    // With both endpoints named, the file is left unread and the command goes on.
    const named = await arbiter(['status', 'T-1'], homeless(), 90_000, checkout);
    assert.doesNotMatch(named.stderr, /stack\.json/);
    assert.match(named.stderr, /T-1/, 'it asked the stack for the task');
  });

  it('provenance checkpoint signs with no key committed where its home lies', async () => {
    const checkout = makeRepo({ 'README.md': '# theirs\n', ...keyPairFiles() });
    const res = await arbiter(['provenance', 'checkpoint'], homeless(), 90_000, checkout);
    assert.equal(res.code, 1, res.stdout);
    assert.match(res.stderr, /verdict-signing\.pem is tracked by git: Arbiter does not sign with a key that came/);
    assert.doesNotMatch(res.stdout, /signed /);
  });

  it('the worker signs with no key linked into its default home from a folder git ignores', async () => {
    const checkout = makeRepo({ 'README.md': '# theirs\n', '.gitignore': 'vendor/\n' });
    for (const [file, text] of Object.entries(keyPairFiles('vendor/pkg/keys/'))) {
      mkdirSync(path.dirname(path.join(checkout, file)), { recursive: true });
      writeFileSync(path.join(checkout, file), text);
    }
    mkdirSync(path.join(checkout, '.arbiter'));
    symlinkSync(path.join(checkout, 'vendor', 'pkg', 'keys'), path.join(checkout, '.arbiter', 'keys'));
    await assert.rejects(
      workerWithHome(path.join(checkout, '.arbiter')),
      (err: Error) => err instanceof KeyChosenByOthersError && /is reached through the symlink/.test(err.message),
    );
  });

  it('the worker keeps no state in a home committed to the repository, or linked in', async () => {
    // Another host's id: this worker would poll that host's queue and take over its workspaces' tasks.
    const checkout = makeRepo({ 'README.md': '# theirs\n', '.arbiter/worker-id': 'a1b2c3d4e5f6\n' });
    await assert.rejects(
      workerWithHome(path.join(checkout, '.arbiter')),
      (err: Error) =>
        err instanceof HomeChosenByOthersError &&
        /\.arbiter holds 1 file\(s\) tracked by git \(\.arbiter\/worker-id\): a home that came with a checkout/.test(
          err.message,
        ),
    );
    const linked = makeRepo({ 'README.md': '# theirs\n', '.gitignore': 'vendor/\n' });
    mkdirSync(path.join(linked, 'vendor', 'home'), { recursive: true });
    symlinkSync(path.join(linked, 'vendor', 'home'), path.join(linked, '.arbiter'));
    await assert.rejects(
      workerWithHome(path.join(linked, '.arbiter')),
      (err: Error) =>
        err instanceof HomeChosenByOthersError && /\.arbiter is a symlink \(to \S+vendor\/home\)/.test(err.message),
    );
  });

  it('arbiter start runs no PostgreSQL or Temporal from a data folder committed to the repository', async () => {
    const marker = path.join(tempDir('arbiter-carried-pg-'), 'ran');
    const checkout = makeRepo({
      'README.md': '# theirs\n',
      // Whoever committed this would run a command of theirs as the operator, on PostgreSQL's first WAL switch.
      '.arbiter/pg/postgresql.conf': `archive_mode = on\narchive_command = 'touch ${marker}'\n`,
      '.arbiter/pg/PG_VERSION': '17\n',
      '.arbiter/temporal.db': 'SQLite format 3\0',
    });
    const { TEMPORAL_ADDRESS: _t, DATABASE_URL: _d, ...env } = homeless();
    const res = await arbiter(['start', '--once'], env, 90_000, checkout);
    assert.equal(res.code, 1, res.stdout);
    assert.match(res.stderr, /\.arbiter holds 3 file\(s\) tracked by git \(\.arbiter\/pg\/PG_VERSION, /);
    assert.match(res.stderr, /set ARBITER_HOME to a folder of its own/);
    assert.doesNotMatch(res.stdout, /starting PostgreSQL|starting Temporal/);
    assert.equal(existsSync(path.join(checkout, '.arbiter', 'logs')), false, 'nothing was written to that home');
    assert.equal(existsSync(marker), false);

    const doctor = await arbiter(['doctor', '--json'], homeless(), 90_000, checkout);
    const home = (JSON.parse(doctor.stdout) as Array<{ name: string; ok: boolean; detail: string }>).find(
      (c) => c.name === "Arbiter's home",
    );
    assert.equal(home?.ok, false, doctor.stdout);
    assert.match(home.detail, /holds 3 file\(s\) tracked by git/);
    assert.equal(doctor.code, 1);

    const cluster = await arbiter(['cluster', 'stop'], homeless(), 90_000, checkout);
    assert.equal(cluster.code, 1, cluster.stdout);
    assert.match(cluster.stderr, /holds 3 file\(s\) tracked by git/);
  });
});

describe("Arbiter's home, read as a whole (carriedHomeReason)", () => {
  it("is the operator's when absent, untracked, outside any repository, or named though linked", () => {
    const checkout = makeRepo({ 'README.md': '# theirs\n', '.gitignore': '.arbiter/\n' });
    const home = path.join(checkout, '.arbiter');
    assert.equal(carriedHomeReason({ path: home, named: false }), undefined, 'absent');
    mkdirSync(path.join(home, 'pg'), { recursive: true });
    writeFileSync(path.join(home, 'pg', 'postgresql.conf'), '# ours\n');
    assert.equal(carriedHomeReason({ path: home, named: false }), undefined, 'untracked, ignored');
    const outside = tempDir('arbiter-home-');
    writeFileSync(path.join(outside, 'worker-id'), 'x\n');
    assert.equal(carriedHomeReason({ path: outside, named: false }), undefined, 'in no repository');
    const link = path.join(tempDir('arbiter-link-'), 'home');
    symlinkSync(outside, link);
    assert.equal(carriedHomeReason({ path: link, named: true }), undefined, 'named, links and all');
    assert.match(carriedHomeReason({ path: link, named: false }) ?? '', /is a symlink/);
  });

  it('is not vouched for by a bare repository the checkout carries, nor runs its fsmonitor', () => {
    const marker = path.join(tempDir('arbiter-fsmonitor-'), 'ran');
    // Committed as plain files: git would find `work` as a bare repository with an empty index.
    const bare = (dir: string) => ({
      [`${dir}/HEAD`]: 'ref: refs/heads/main\n',
      [`${dir}/config`]: `[core]\n\trepositoryformatversion = 0\n\tbare = false\n\tworktree = .\n\tfsmonitor = "touch ${marker}"\n`,
      [`${dir}/objects/.keep`]: '',
      [`${dir}/refs/.keep`]: '',
    });
    const checkout = makeRepo({ ...bare('work'), 'work/.arbiter/pg/postgresql.conf': "archive_command = 'x'\n" });
    const home = { path: path.join(checkout, 'work', '.arbiter'), named: false };
    assert.match(carriedHomeReason(home) ?? '', /could not tell \(fatal: cannot use bare repository/);
    const inHome = makeRepo({ ...bare('.arbiter'), '.arbiter/stack.json': '{}' });
    const stack = path.join(inHome, '.arbiter', 'stack.json');
    assert.match(checkoutCarriedReason(stack, { path: path.join(inHome, '.arbiter'), named: false }) ?? '', /bare/);
    assert.equal(existsSync(marker), false, 'git ran the carried fsmonitor command');
  });

  it('reads a name in any case, as a case-insensitive file system would open it', () => {
    const checkout = makeRepo({ 'README.md': '# theirs\n', '.Arbiter/worker-id': 'a1b2c3d4e5f6\n' });
    mkdirSync(path.join(checkout, '.arbiter'));
    assert.equal(
      carriedHomeReason({ path: path.join(checkout, '.arbiter'), named: false }),
      'holds 1 file(s) tracked by git (.Arbiter/worker-id)',
    );
  });

  it('came with the checkout when git tracks anything in it, even a named one, or cannot tell', () => {
    const files: Record<string, string> = { 'README.md': '# theirs\n' };
    for (let i = 0; i < 5; i++) files[`state/f${i}`] = `${i}\n`;
    const checkout = makeRepo(files);
    const named = { path: path.join(checkout, 'state'), named: true };
    assert.equal(carriedHomeReason(named), 'holds 5 file(s) tracked by git (state/f0, state/f1, state/f2, …)');
    // A repository another user owns: git will not answer there, and the check does not fail open,
    // even before the home exists (the first start is refused, not the second).
    execFileSync('chown', ['-R', '12345:12345', checkout]);
    assert.match(
      carriedHomeReason(named) ?? '',
      /^may hold files tracked by git, which could not tell \(.*dubious ownership/,
    );
    assert.match(carriedHomeReason({ path: path.join(checkout, '.arbiter'), named: false }) ?? '', /dubious ownership/);
    const deeper = { path: path.join(checkout, 'not', 'made', 'yet'), named: true };
    assert.match(carriedHomeReason(deeper) ?? '', /dubious ownership/);
    // Root under sudo, for the user who owns the checkout: git answers.
    process.env.SUDO_UID = '12345';
    try {
      assert.equal(carriedHomeReason(named), 'holds 5 file(s) tracked by git (state/f0, state/f1, state/f2, …)');
    } finally {
      delete process.env.SUDO_UID;
    }
  });
});
