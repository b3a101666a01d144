/** Replacing a small state file so a reader, or a crash, never sees it half written. */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs/promises';

/** Writes `text` to a temporary file beside `file`, then renames it over `file`. */
export async function writeFileAtomically(file: string, text: string): Promise<void> {
  const tmp = `${file}.${randomBytes(4).toString('hex')}`;
  await fs.writeFile(tmp, text);
  await fs.rename(tmp, file);
}
