/**
 * Run inside a repository, Arbiter's default home is the checkout's `./.arbiter`: a key pair or a
 * stack description committed there was chosen by whoever could commit, who holds the private
 * half. The CLI pins no such key, reads no such stack, and the worker signs with no such key.
 */
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { generateKeyPairSync } from 'node:crypto';
import { KeyChosenByOthersError } from '../../domain/errors';
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
    symlinkSync(path.join(checkout, 'vendor', 'pkg'), path.join(checkout, '.arbiter'));
    await assert.rejects(
      workerWithHome(path.join(checkout, '.arbiter')),
      (err: Error) => err instanceof KeyChosenByOthersError && /is reached through the symlink/.test(err.message),
    );
  });

  it('the worker signs with no key committed where its home lies', async () => {
    const checkout = makeRepo({ 'README.md': '# theirs\n', ...keyPairFiles() });
    await assert.rejects(
      workerWithHome(path.join(checkout, '.arbiter')),
      (err: Error) =>
        err instanceof KeyChosenByOthersError &&
        /verdict-signing\.pem is tracked by git: Arbiter does not sign with a key that came with a checkout/.test(
          err.message,
        ),
    );
  });
});
