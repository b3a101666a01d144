'use strict';

const UNIT_SECONDS = { h: 3600, m: 60, s: 1 };

/** Seconds in a duration such as `1h30m`, `45s` or `2h5s`; throws on anything else. */
function parseDuration(text) {
  const parts = String(text).match(/^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$/);
  if (!parts || text === '') throw new SyntaxError(`not a duration: '${text}'`);
  const [, h = '0', m = '0', s = '0'] = parts;
  return Number(h) * UNIT_SECONDS.h + Number(m) * UNIT_SECONDS.m + Number(s) * UNIT_SECONDS.s;
}

module.exports = { parseDuration };
