/**
 * The tests' Python with securesystemslib and pyca/cryptography, which `npm run setup` installs
 * in a venv under .tools: code from another ecosystem, to check what Arbiter signs.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { projectRoot, toolPaths } from '../../client/paths';

/** The venv's python: setup's record, else where setup puts it (another checkout may have rewritten the record). */
export function sslibPython(): string {
  const found = [toolPaths().sslibPython, path.join(projectRoot(), '.tools', 'python-sslib', 'bin', 'python')].find(
    (p) => p && existsSync(p),
  );
  if (!found)
    throw new Error('no Python with securesystemslib: run `npm run setup` (installs it into .tools/python-sslib)');
  return found;
}

/** Exit code and output of `python args…`. */
export function runPython(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(sslibPython(), args, { timeout: 60_000 }, (err, stdout, stderr) =>
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }),
    );
  });
}

/** The OpenSSH `ssh-ed25519 AAAA…` line of a PEM public key, as pyca/cryptography writes it. */
export async function opensshLineOf(pemFile: string, comment: string): Promise<string> {
  const res = await runPython([
    '-c',
    'import sys; from cryptography.hazmat.primitives import serialization as s; ' +
      'k = s.load_pem_public_key(open(sys.argv[1], "rb").read()); ' +
      'print(k.public_bytes(s.Encoding.OpenSSH, s.PublicFormat.OpenSSH).decode(), sys.argv[2])',
    pemFile,
    comment,
  ]);
  if (res.code !== 0) throw new Error(`converting ${pemFile} to OpenSSH failed: ${res.stderr}`);
  return res.stdout.trim();
}
