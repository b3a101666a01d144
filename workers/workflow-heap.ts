/**
 * The workflow thread's heap limit. The SDK runs workflows in a Node worker thread it creates
 * without resource limits, so that thread takes V8's `--max-old-space-size` as it stands when
 * the thread starts. Setting the flag at run time changes no heap that exists (this process's
 * main thread keeps its own) and applies to every isolate created after, which is the point:
 * it must run before the SDK's worker is created.
 */
import { setFlagsFromString } from 'node:v8';

/** Limits the old generation of every worker thread started from now on to `mb` MiB. */
export function limitWorkflowThreadHeap(mb: number): void {
  setFlagsFromString(`--max-old-space-size=${Math.floor(mb)}`);
}
