/**
 * Reading a file someone handed over (a verdict, a checkpoint): only a regular file, of at most
 * a bound, read from the handle that was checked. The size of a symlink to `/dev/zero` reads as 0,
 * and reading it grew the verifier by 250 MB a second; a FIFO blocked it for good (found in review).
 */
import { closeSync, constants, fstatSync, openSync, readSync } from 'node:fs';
import { UsageError } from './output';

/** `file`'s text, refused (naming `what`) unless it is a regular file of at most `maxBytes`. */
export function readHandedFile(file: string, maxBytes: number, what: string): string {
  let fd: number;
  try {
    fd = openSync(file, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (err) {
    throw new UsageError(`${what} ${file} cannot be read: ${(err as Error).message}`);
  }
  try {
    if (!fstatSync(fd).isFile()) throw new UsageError(`${what} ${file} is not a regular file`);
    const buffer = Buffer.alloc(maxBytes + 1);
    let length = 0;
    for (let n = -1; n !== 0 && length <= maxBytes; length += n)
      n = readSync(fd, buffer, length, buffer.length - length, null);
    if (length > maxBytes) throw new UsageError(`${what} ${file} is larger than ${maxBytes} bytes`);
    return buffer.toString('utf8', 0, length);
  } finally {
    closeSync(fd);
  }
}
