/** Reading a workflow's history as text, to show what it holds (and what it keeps out). */
import { testStack } from './stack';

/** The workflow's history as text, with every payload decoded (payload data is binary JSON). */
export async function decodedHistory(workflowId: string): Promise<string> {
  const history = await testStack().client.temporal.workflow.getHandle(workflowId).fetchHistory();
  return JSON.stringify(history, (key, value: unknown) => {
    if (value instanceof Uint8Array) return Buffer.from(value).toString('utf8');
    if (key === 'data' && typeof value === 'string') return Buffer.from(value, 'base64').toString('utf8'); // proto JSON: bytes as base64
    const v = value as { type?: unknown; data?: unknown } | null;
    if (v && v.type === 'Buffer' && Array.isArray(v.data)) return Buffer.from(v.data as number[]).toString('utf8');
    return value;
  });
}

/** How often `marker` occurs in `text`. */
export function occurrences(text: string, marker: string): number {
  return text.split(marker).length - 1;
}
