'use strict';
const assert = require('node:assert/strict');
const { slugify } = require('../src/slugify');

assert.equal(slugify('Hello, World!'), 'hello-world');
assert.equal(slugify('  spaced   out  '), 'spaced-out');
console.log('punctuation: ok');
