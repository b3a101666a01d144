/**
 * What each wire protocol of the fake model implements, so the server (recording, auth,
 * scripting, extra endpoints) is written once and each protocol only renders replies.
 */
import type { FakeProtocol, OfferedTool, ScriptedReply, ScriptedUsage } from './script';

/** Server-sent events on one response. */
export interface Sse {
  /** `event: <name>` (when given) and `data: <json>`. */
  event(name: string | undefined, data: unknown): void;
  /** A raw `data:` line, e.g. `[DONE]`. */
  raw(data: string): void;
  end(): void;
}

/** How a protocol writes its answer. */
export interface Output {
  json(status: number, body: unknown): void;
  sse(): Sse;
}

/** One reply to render. */
export interface Rendering {
  model: string;
  turn: number;
  reply: ScriptedReply;
  usage: ScriptedUsage;
  stream: boolean;
  /** Whether the client asked for usage in the stream (chat completions' `stream_options.include_usage`). */
  body: Record<string, unknown>;
}

/** One wire protocol. */
export interface ProtocolModule {
  protocol: FakeProtocol;
  /** Whether a request is this protocol's conversation request. */
  matches(method: string, path: string): boolean;
  /** The conversation turn this request is for, from the history it carries. */
  turnOf(body: Record<string, unknown>): number;
  /** The tools the client offered. */
  tools(body: Record<string, unknown>): OfferedTool[];
  respond(out: Output, r: Rendering): void;
  /** The protocol's error body. */
  error(status: number, message: string): unknown;
}

/** The error body both OpenAI protocols send. */
export function openaiError(status: number, message: string) {
  return {
    error: {
      message,
      type: status === 401 ? 'invalid_request_error' : 'server_error',
      code: status === 401 ? 'invalid_api_key' : null,
    },
  };
}
