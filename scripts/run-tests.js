#!/usr/bin/env node
/*
 * Runs every compiled mocha suite (lib/test/**\/*.test.js) with the shared real stack as a
 * root-hook plugin, and ends with the plain summary line `N passed, N failed` that CI reads.
 * Arguments, if any, are file filters (substrings of the test file path); TEST_GREP, if set, runs
 * only the tests whose full title matches it (mocha's --grep).
 *
 * Suites under a pure folder (PURE_DIRS: no Temporal, no database — domain logic, the fake model
 * servers the agent tests use, replaying recorded histories) need no stack: when every selected file
 * is in one, the stack is not started and only the temp-folder cleanup runs as a root hook, so
 * `node scripts/run-tests.js test/domain` takes seconds.
 */
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const Mocha = require('mocha');

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

const filters = process.argv.slice(2);
const files = findTests(TEST_DIR)
  .filter((f) => filters.length === 0 || filters.some((x) => f.includes(x)))
  .sort();
const pure = files.length > 0 && files.every((f) => PURE_DIRS.some((d) => f.startsWith(d)));
const rootHooks = pure
  ? require(path.join(TEST_DIR, 'helpers', 'temp.js')).pureHooks
  : require(path.join(TEST_DIR, 'helpers', 'stack.js')).mochaHooks;
const mocha = new Mocha({ timeout: 120000, reporter: 'spec', rootHooks, grep: process.env.TEST_GREP || undefined });
files.forEach((f) => mocha.addFile(f));

let passed = 0;
let failed = 0;
const runner = mocha.run((failures) => {
  process.stdout.write(`\n${passed} passed, ${failed} failed\n`);
  process.exitCode = failures > 0 || files.length === 0 ? 1 : 0;
  // Native handles (Temporal runtime) may linger; the summary is printed, so leave promptly.
  setTimeout(() => process.exit(process.exitCode), 2000).unref();
});
runner.on('pass', () => passed++);
runner.on('fail', () => failed++);
