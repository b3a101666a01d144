/**
 * Text from a record, made safe to show a person. Names and messages an agent or a submitter
 * chose reach a reviewer's terminal and the Web UI: an ignored file's name holding escape
 * sequences and line breaks redrew `arbiter status`, an approver read "+1 files" for a waiver of
 * 38, approved, and the change was delivered (found in review). Control characters (C0, DEL,
 * C1), bidirectional and invisible formatting characters and line separators are written as
 * `\uXXXX`, which also keeps JSON valid, so nothing a record holds can move the cursor, hide
 * text or start a line of its own.
 */

/** Everything escaped, line breaks included: for a value shown inside one line. */
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u061c\u180e\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff\ufff9-\ufffb]/g;

/** The same, but line breaks and tabs kept: for whole outputs whose lines are the writer's own. */
const UNSAFE_KEEPING_LINES =
  /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u061c\u180e\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff\ufff9-\ufffb]/g;

const escaped = (c: string) => `\\u${c.charCodeAt(0).toString(16).toUpperCase().padStart(4, '0')}`;

/** `text` on one line, with nothing in it a terminal or a browser would act on. */
export function printable(text: string): string {
  return text.replace(UNSAFE, escaped);
}

/** `text` with its line breaks and tabs, and nothing else a terminal would act on. */
export function printableLines(text: string): string {
  return text.replace(UNSAFE_KEEPING_LINES, escaped);
}
