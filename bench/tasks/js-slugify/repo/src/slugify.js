'use strict';

/** A URL slug: lower case ASCII letters and digits, words joined by single dashes, none at either end. */
function slugify(text) {
  return String(text)
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[^a-z0-9]/g, '-');
}

module.exports = { slugify };
