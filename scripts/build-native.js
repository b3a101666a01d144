#!/usr/bin/env node
/*
 * Compiles arbiter-spawn (host/native/spawn-helper.c), the helper that starts git and du for the
 * worker, to lib/host/ beside the module that runs it. Part of `npm run build` and of setup;
 * without a C compiler it stops and says how to get one. Plain JavaScript: it runs before
 * anything is built.
 */
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '..');
const SOURCE = path.join(ROOT, 'host', 'native', 'spawn-helper.c');
const OUTPUT = path.join(ROOT, 'lib', 'host', 'arbiter-spawn');

/** Compiles the helper with `cc` (CC overrides); returns an error message, or undefined when built. */
function buildSpawnHelper() {
  const cc = process.env.CC || 'cc';
  fs.mkdirSync(path.dirname(OUTPUT), { recursive: true });
  const r = spawnSync(cc, ['-O2', '-std=gnu11', '-Wall', '-o', OUTPUT, SOURCE], {
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  if (r.error)
    return `${cc} could not run (${r.error.code}): install a C compiler (Debian: apt-get install gcc libc6-dev)`;
  if (r.status !== 0) return `${cc} failed to compile ${path.relative(ROOT, SOURCE)} (see above)`;
  return undefined;
}

module.exports = { buildSpawnHelper };

if (require.main === module) {
  const problem = buildSpawnHelper();
  if (problem) {
    process.stderr.write(`[build] ERROR: ${problem}\n`);
    process.exit(1);
  }
}
