#!/usr/bin/env node
'use strict';
// Thin launcher: the CLI is compiled TypeScript under lib/ (built by `npm run setup`).
const path = require('node:path');
const fs = require('node:fs');
const cli = path.join(__dirname, '..', 'lib', 'client', 'cli', 'main.js');
if (!fs.existsSync(cli)) {
  process.stderr.write('arbiter is not built yet: run `npm run setup` in ' + path.resolve(__dirname, '..') + '\n');
  process.exit(1);
}
require(cli).main(process.argv.slice(2));
