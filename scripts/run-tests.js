#!/usr/bin/env node
/*
 * Runs every compiled mocha suite (lib/test/**\/*.test.js) with the shared real stack as a
 * root-hook plugin, and ends with the plain summary line `N passed, N failed` that CI reads.
 * Arguments, if any, are file filters (substrings of the test file path); TEST_GREP, if set, runs
 * only the tests whose full title matches it (mocha's --grep).
 *
 * A whole run (no filters) is split over TEST_JOBS processes (default: 2, or 1 on a one-core host),
 * each with a stack of its own (scripts/test-shards.js): most tests wait on servers and timers, so
 * two processes share two cores well. TEST_JOBS=1 runs everything in this process, as a filtered run
 * does unless TEST_JOBS says otherwise.
 *
 * Suites under a pure folder (PURE_DIRS: no Temporal, no database — domain logic, the fake model
 * servers the agent tests use, replaying recorded histories) need no stack: when every selected file
 * is in one, the stack is not started and only the temp-folder cleanup runs as a root hook, so
 * `node scripts/run-tests.js test/domain` takes seconds.
 */
'use strict';
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const Mocha = require('mocha');
const { runShards } = require('./test-shards');

const ROOT = path.resolve(__dirname, '..');
const TEST_DIR = path.join(ROOT, 'lib', 'test');
/** Test folders (under lib/test) whose suites must never use the stack (testStack, testActivityDeps). */
const PURE_DIRS = ['domain', 'agents', 'replay'].map((d) => path.join(TEST_DIR, d) + path.sep);

function findTests(dir) {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const full = path.join(dir, e.name);
    if (e.isDirectory()) return findTests(full);
    return e.name.endsWith('.test.js') ? [full] : [];
  });
}

/** How many processes to run the selected files in: TEST_JOBS, else 2 for a whole run on 2+ cores. */
function jobCount(filtered, fileCount) {
  const asked = process.env.TEST_JOBS;
  if (asked !== undefined && !/^[1-9]\d*$/.test(asked)) {
    process.stderr.write(`TEST_JOBS must be a whole number of processes (1 or more), not ${JSON.stringify(asked)}\n`);
    process.exit(2);
  }
  const jobs = asked ? Number(asked) : filtered ? 1 : Math.min(2, os.availableParallelism());
  return Math.max(1, Math.min(jobs, fileCount));
}

function firstLine(err) {
  const line = String(err?.message ?? err).split('\n')[0];
  return line.length > 300 ? `${line.slice(0, 300)}…` : line;
}

/**
 * Each failed test's title and the first line of its error, printed again just above the summary:
 * CI shows only a log's last lines, and mocha's own account is far above them in a long run.
 */
function failureList(failures) {
  return failures.length ? `failed:\n${failures.map((f) => `  ✘ ${f}\n`).join('')}\n` : '';
}

/**
 * Mocha in this process. When TEST_DURATIONS_OUT is set, each file's time is written there (ms by
 * path under lib/test); when TEST_FAILURES_OUT is, the failed tests' lines (scripts/test-shards.js).
 */
function runHere(files, pure) {
  const rootHooks = pure
    ? require(path.join(TEST_DIR, 'helpers', 'temp.js')).pureHooks
    : require(path.join(TEST_DIR, 'helpers', 'stack.js')).mochaHooks;
  const mocha = new Mocha({ timeout: 120000, reporter: 'spec', rootHooks, grep: process.env.TEST_GREP || undefined });
  files.forEach((f) => mocha.addFile(f));

  let passed = 0;
  const failures = [];
  const durations = {};
  const began = new Map();
  const runner = mocha.run((failureCount) => {
    // A shard's own count must not pass for the whole run's in a log CI reads.
    const label = process.env.TEST_SHARD ? `shard ${process.env.TEST_SHARD} summary: ` : '';
    process.stdout.write(`\n${failureList(failures)}${label}${passed} passed, ${failures.length} failed\n`);
    if (process.env.TEST_DURATIONS_OUT) fs.writeFileSync(process.env.TEST_DURATIONS_OUT, JSON.stringify(durations));
    if (process.env.TEST_FAILURES_OUT) fs.writeFileSync(process.env.TEST_FAILURES_OUT, JSON.stringify(failures));
    process.exitCode = failureCount > 0 || files.length === 0 ? 1 : 0;
    // Native handles (Temporal runtime) may linger; the summary is printed, so leave promptly.
    setTimeout(() => process.exit(process.exitCode), 2000).unref();
  });
  runner.on('pass', () => passed++);
  runner.on('fail', (test, err) => failures.push(`${test.fullTitle()}: ${firstLine(err)}`));
  runner.on('suite', (suite) => suite.file && suite.parent?.root && began.set(suite, Date.now()));
  runner.on('suite end', (suite) => {
    if (!began.has(suite)) return;
    const key = path.relative(TEST_DIR, suite.file);
    durations[key] = (durations[key] ?? 0) + Date.now() - began.get(suite);
  });
}

const filters = process.argv.slice(2);
const files = findTests(TEST_DIR)
  .filter((f) => filters.length === 0 || filters.some((x) => f.includes(x)))
  .sort();
const pure = files.length > 0 && files.every((f) => PURE_DIRS.some((d) => f.startsWith(d)));
const jobs = pure ? 1 : jobCount(filters.length > 0, files.length);
if (jobs > 1)
  runShards({ files, jobs, testDir: TEST_DIR, script: __filename, failureList }).catch((err) => {
    process.stdout.write(`the parallel run could not start: ${err.message}\n\n0 passed, 1 failed\n`);
    process.exitCode = 1;
  });
else runHere(files, pure);
