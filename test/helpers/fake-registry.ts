/**
 * A real local npm registry for one package, speaking the registry protocol npm uses
 * (packument at `/<name>`, tarball under `/<name>/-/`), so a policy's `npm ci` setup installs a
 * real dependency from a real HTTP server. Records every request it answers.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { tempDir } from './temp';

/** The running registry. */
export interface FakeRegistry {
  url: string;
  /** The one package it serves. */
  name: string;
  /** What a package-lock.json entry for the package says. */
  lockEntry: { version: string; resolved: string; integrity: string };
  requests: string[];
  close(): Promise<void>;
}

/** Packs `name@version` with `files` and serves it at 127.0.0.1 on a random port. */
export async function startFakeRegistry(
  name: string,
  version: string,
  files: Record<string, string>,
): Promise<FakeRegistry> {
  const dir = tempDir('arbiter-registry-');
  const pkg = path.join(dir, 'pkg');
  mkdirSync(pkg);
  writeFileSync(path.join(pkg, 'package.json'), JSON.stringify({ name, version, main: 'index.js' }));
  for (const [file, content] of Object.entries(files)) writeFileSync(path.join(pkg, file), content);
  const tgzName = execFileSync('npm', ['pack', '--silent', '--pack-destination', dir], {
    cwd: pkg,
    encoding: 'utf8',
  }).trim();
  const tarball = readFileSync(path.join(dir, tgzName));
  const integrity = `sha512-${createHash('sha512').update(tarball).digest('base64')}`;
  const requests: string[] = [];
  const server = http.createServer((req, res) => {
    requests.push(`${req.method} ${req.url}`);
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const resolved = `${base}/${name}/-/${tgzName}`;
    if (req.url === `/${name}`) {
      const manifest = { name, version, main: 'index.js', dist: { tarball: resolved, integrity } };
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ name, 'dist-tags': { latest: version }, versions: { [version]: manifest } }));
    } else if (req.url === `/${name}/-/${tgzName}`) {
      res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(tarball);
    } else res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    name,
    lockEntry: { version, resolved: `${url}/${name}/-/${tgzName}`, integrity },
    requests,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

/**
 * An npm project depending on `from`'s package, with a policy whose setup installs it (`npm ci`
 * from `from`, registries `listed`) and whose `tests` gate runs `node test.js`, plus `files`.
 */
export function npmProjectFiles(
  from: FakeRegistry,
  listed: FakeRegistry,
  files: Record<string, string>,
): Record<string, string> {
  const dependencies = { [from.name]: from.lockEntry.version };
  const lock = {
    name: 'app',
    version: '1.0.0',
    lockfileVersion: 3,
    requires: true,
    packages: { '': { name: 'app', version: '1.0.0', dependencies }, [`node_modules/${from.name}`]: from.lockEntry },
  };
  const policy = [
    'version: 1',
    'gates:',
    '  tests:',
    '    mode: block',
    '    command: [node, test.js]',
    'arbiter:',
    '  setup:',
    `    command: [npm, ci, --registry, "${from.url}/", --no-audit, --no-fund]`,
    '    outputs: [node_modules]',
    `    registries: ["${listed.url}"]`,
    '',
  ].join('\n');
  return {
    'package.json': JSON.stringify({ name: 'app', version: '1.0.0', dependencies }, null, 2),
    'package-lock.json': JSON.stringify(lock, null, 2),
    '.gitignore': 'node_modules/\n',
    '.caws/policy.yaml': policy,
    ...files,
  };
}
