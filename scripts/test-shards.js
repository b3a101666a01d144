/*
 * The parallel half of scripts/run-tests.js: the selected files split over several processes,
 * each running scripts/run-tests.js on its share with a real stack of its own (Temporal dev
 * server, PostgreSQL, worker, home) and its own slice of the sandbox uid range, since a uid's
 * process limit counts that uid's processes on the whole host.
 *
 * Files are dealt longest first, each to the process with the least work so far, by the times in
 * scripts/test-durations.json (a file not listed counts as the median). Every parallel run writes
 * the times it measured to test-output/test-durations.json; copy that over the committed one when
 * the suite's shape changes, keeping the chaos suite's entry at its time on a fresh machine (about
 * ten minutes), where it first builds the Temporal cluster from source. Each process's output goes
 * to test-output/shard-N.log and is printed whole when that process ends, so the spec reporter's
 * lines stay in order; then the failed tests of all, and last the summary of all.
 */
'use strict';
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '..');
const OUT = path.join(ROOT, 'test-output');
const KNOWN_DURATIONS = path.join(__dirname, 'test-durations.json');
const SUMMARY = /^shard \d+ summary: (\d+) passed, (\d+) failed$/m;

function readJson(file) {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch {
    return {};
  }
}

/** Each file's expected time (ms), keyed as the files are: absolute paths. */
function estimates(files, testDir) {
  const known = readJson(KNOWN_DURATIONS);
  const times = Object.values(known).sort((a, b) => a - b);
  const median = times.length ? times[Math.floor(times.length / 2)] : 10_000;
  return new Map(files.map((f) => [f, known[path.relative(testDir, f)] ?? median]));
}

/** Longest first, each to the least loaded share. */
function deal(files, jobs, estimate) {
  const shares = Array.from({ length: jobs }, () => ({ files: [], ms: 0 }));
  for (const f of [...files].sort((a, b) => estimate.get(b) - estimate.get(a))) {
    const least = shares.reduce((a, b) => (b.ms < a.ms ? b : a));
    least.files.push(f);
    least.ms += estimate.get(f);
  }
  return shares;
}

/** The sandbox uid range a worker would take from this environment, cut into `jobs` equal slices. */
function uidSlices(jobs) {
  const { SandboxEnvSchema, sandboxConfigFromEnv } = require(path.join(ROOT, 'lib', 'host', 'sandbox', 'config.js'));
  const { withoutEmptyValues } = require(path.join(ROOT, 'lib', 'temporal-config', 'connection.js'));
  const { first, last } = sandboxConfigFromEnv(SandboxEnvSchema.parse(withoutEmptyValues(process.env))).uids;
  const size = Math.floor((last - first + 1) / jobs);
  if (size < 1) throw new Error(`ARBITER_SANDBOX_UID_RANGE ${first}-${last} has fewer uids than TEST_JOBS=${jobs}`);
  return Array.from({ length: jobs }, (_, k) => `${first + k * size}-${first + (k + 1) * size - 1}`);
}

/**
 * A share's counts and failed tests from its log and exit. A process that never printed its summary,
 * or that passed everything and still exited badly (an error thrown after the run, a signal), counts
 * one failure more: a summary alone must not turn a crashed process into a pass.
 */
function shareOutcome(n, text, code, signal, listed) {
  const m = SUMMARY.exec(text);
  const exit = signal ?? `exit ${code}`;
  if (!m) return crashed({ passed: 0, failed: 0, failures: [] }, `shard ${n} ended (${exit}) without its summary`);
  const outcome = { passed: Number(m[1]), failed: Number(m[2]), failures: Array.isArray(listed) ? listed : [] };
  if (outcome.failed === 0 && code !== 0)
    return crashed(outcome, `shard ${n} ended (${exit}) after a summary of no failures`);
  return outcome;
}

/** `outcome` with one failure more, `why`, said at once too. */
function crashed(outcome, why) {
  process.stdout.write(`${why}\n`);
  return { ...outcome, failed: outcome.failed + 1, failures: [...outcome.failures, why] };
}

/** Runs one share to its end; resolves with its counts (a process that never printed them counts as one failure). */
function runShare(n, share, uids, script) {
  const log = path.join(OUT, `shard-${n}.log`);
  const durationsOut = path.join(OUT, `shard-${n}-durations.json`);
  const failuresOut = path.join(OUT, `shard-${n}-failures.json`);
  for (const f of [durationsOut, failuresOut]) fs.rmSync(f, { force: true });
  const fd = fs.openSync(log, 'w');
  const child = spawn(process.execPath, [script, ...share.files], {
    detached: true,
    cwd: ROOT,
    stdio: ['ignore', fd, fd],
    env: {
      ...process.env,
      TEST_JOBS: '1',
      TEST_SHARD: String(n),
      TEST_DURATIONS_OUT: durationsOut,
      TEST_FAILURES_OUT: failuresOut,
      ARBITER_SANDBOX_UID_RANGE: uids,
    },
  });
  fs.closeSync(fd);
  return {
    child,
    done: new Promise((resolve) => {
      child.on('exit', (code, signal) => {
        const text = fs.readFileSync(log, 'utf8');
        process.stdout.write(`\n===== shard ${n} (${share.files.length} files) =====\n${text}`);
        resolve({ ...shareOutcome(n, text, code, signal, readJson(failuresOut)), durations: readJson(durationsOut) });
      });
    }),
  };
}

function killGroup(child, signal) {
  try {
    process.kill(-child.pid, signal);
  } catch {
    // Already gone.
  }
}

/** Runs `files` in `jobs` processes and prints the summary of all of them. */
async function runShards({ files, jobs, testDir, script, failureList }) {
  fs.mkdirSync(OUT, { recursive: true });
  const shares = deal(files, jobs, estimates(files, testDir));
  const uids = uidSlices(jobs);
  process.stdout.write(
    `running ${files.length} test files in ${jobs} processes (TEST_JOBS; about ` +
      `${shares.map((s) => Math.round(s.ms / 60_000)).join(' + ')} minutes); each prints its output when it ends\n`,
  );
  const runs = shares.map((share, k) => runShare(k + 1, share, uids[k], script));
  // Each process leads its own group (spawned detached), so a signal reaches the servers it started
  // too; one still running 20 s on (the Temporal runtime takes SIGTERM for a worker shutdown) is killed.
  const stop = (signal) => {
    runs.forEach((r) => killGroup(r.child, signal));
    setTimeout(() => runs.forEach((r) => killGroup(r.child, 'SIGKILL')), 20_000).unref();
  };
  process.once('SIGINT', () => stop('SIGINT'));
  process.once('SIGTERM', () => stop('SIGTERM'));
  const results = await Promise.all(runs.map((r) => r.done));
  const durations = Object.assign({}, ...results.map((r) => r.durations));
  fs.writeFileSync(path.join(OUT, 'test-durations.json'), `${JSON.stringify(durations, null, 2)}\n`);
  const passed = results.reduce((n, r) => n + r.passed, 0);
  const failed = results.reduce((n, r) => n + r.failed, 0);
  process.stdout.write(`\n${failureList(results.flatMap((r) => r.failures))}${passed} passed, ${failed} failed\n`);
  process.exitCode = failed > 0 ? 1 : 0;
}

module.exports = { runShards };
