/**
 * What a fake model says, independent of the wire protocol: a test scripts a tool-calling
 * conversation once (turn 1: run this command; turn 2: say done) and each protocol module
 * renders it as that API would. Turns are counted from the history the client sends, so a
 * retried request for the same turn gets the same reply, whatever else the client asked for
 * in between.
 */
import type { IncomingHttpHeaders } from 'node:http';

/** One tool call the model makes. `input` objects are sent as JSON; strings as they are. */
export interface ScriptedToolCall {
  name: string;
  input: unknown;
  id?: string;
  /**
   * `custom` renders as a free-form (grammar) tool call where the protocol has one (OpenAI
   * responses' `custom_tool_call`, used by Codex's `apply_patch`); elsewhere it is a function call.
   */
  kind?: 'function' | 'custom';
}

/** Tokens one reply reports; the server counts them so budget assertions are exact. */
export interface ScriptedUsage {
  /** Input not read from or written to a prompt cache. */
  input: number;
  output: number;
  /** Prompt-cache tokens, as Anthropic reports them (the OpenAI protocols report `read` as cached input). */
  cache?: { read: number; write5m: number; write1h: number };
}

/** What the model answers on one turn. */
export interface ScriptedReply {
  text?: string;
  toolCalls?: ScriptedToolCall[];
  usage?: ScriptedUsage;
}

/** The wire protocols the fake speaks (the gateway's names). */
export type FakeProtocol = 'anthropic-messages' | 'openai-chat' | 'openai-responses';

/** A tool the client offered, by the name the model must use to call it. */
export interface OfferedTool {
  name: string;
  type: string;
}

/** What the script sees of the request it answers. */
export interface TurnContext {
  protocol: FakeProtocol;
  turn: number;
  model: string;
  tools: OfferedTool[];
  /** The request's JSON body, to look at tool results or the prompt. */
  body: Record<string, unknown>;
}

/** Turn-indexed replies (turn 1 is index 0), or a function of the turn. */
export type ConversationScript = ScriptedReply[] | ((ctx: TurnContext) => ScriptedReply);

/** How a request ended. */
export type RequestOutcome = 'pending' | 'completed' | 'error' | 'unauthorized' | 'aborted' | 'not-found';

/** One HTTP request the server received, whatever it was. */
export interface RecordedRequest {
  method: string;
  /** The path and query as sent. */
  path: string;
  headers: IncomingHttpHeaders;
  /** Parsed JSON body, or the raw text when it is not JSON (empty for none). */
  body: unknown;
  protocol?: FakeProtocol;
  /** 'turn' for the scripted conversation; 'side' for requests without tools (titles, quota probes); 'other' for the rest. */
  kind: 'turn' | 'side' | 'other';
  turn?: number;
  stream?: boolean;
  model?: string;
  usage?: ScriptedUsage;
  outcome: RequestOutcome;
  status?: number;
}

/** Default usage of turn `n`: distinct and predictable. */
export function defaultUsage(turn: number): ScriptedUsage {
  return { input: 100 + turn, output: 10 + turn };
}

/** Usage reported for side requests (titles, probes), so they show up in totals as themselves. */
export const SIDE_USAGE: ScriptedUsage = { input: 5, output: 1 };

/** The reply for `ctx` from the script; a missing turn is an error the server reports as HTTP 500. */
export function replyFor(script: ConversationScript, ctx: TurnContext): ScriptedReply {
  if (typeof script === 'function') return script(ctx);
  const reply = script[ctx.turn - 1];
  if (!reply) throw new Error(`the script has no reply for turn ${ctx.turn}`);
  return reply;
}

/** A tool call's input as JSON text. */
export function inputJson(call: ScriptedToolCall): string {
  return typeof call.input === 'string' ? call.input : JSON.stringify(call.input ?? {});
}

/** A stable id for the `i`th call of `turn` when the script gives none. */
export function callId(prefix: string, turn: number, i: number, call: ScriptedToolCall): string {
  return call.id ?? `${prefix}_${turn}_${i}`;
}
