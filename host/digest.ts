/** sha256 digests in the `sha256:<hex>` form used throughout evidence and verdicts. */
import { createHash } from 'node:crypto';

/** Digest of a string or bytes. */
export function sha256(data: string | Uint8Array): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}
