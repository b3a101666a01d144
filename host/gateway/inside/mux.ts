/**
 * The frames that carry many TCP connections over the one Unix socket a sandbox is given: the
 * sandbox may open no socket of its own to the host, so its relay and the worker's bridge share
 * this inherited one. Node built-ins only: this file runs inside the sandbox too.
 */

/** Frame types: a connection opened, bytes on it, and it closed. */
export const FRAME = { open: 1, data: 2, close: 3 } as const;
/** A frame type. */
export type FrameType = (typeof FRAME)[keyof typeof FRAME];

const HEADER = 9;
/** Why a cap: a peer that announces a huge frame must not make the other side buffer it. */
export const MAX_PAYLOAD = 1024 * 1024;

/** One frame: type, connection id, payload. */
export function encodeFrame(type: FrameType, id: number, payload: Uint8Array = Buffer.alloc(0)): Buffer {
  const header = Buffer.alloc(HEADER);
  header.writeUInt8(type, 0);
  header.writeUInt32BE(id, 1);
  header.writeUInt32BE(payload.length, 5);
  return Buffer.concat([header, payload]);
}

/** Writes `data` as as many frames as the payload cap needs. */
export function dataFrames(id: number, data: Buffer): Buffer[] {
  const frames: Buffer[] = [];
  for (let at = 0; at < data.length; at += MAX_PAYLOAD)
    frames.push(encodeFrame(FRAME.data, id, data.subarray(at, at + MAX_PAYLOAD)));
  return frames;
}

/** Reassembles frames from a byte stream; throws on a frame no honest peer sends. */
export class FrameReader {
  private pending: Buffer = Buffer.alloc(0);

  constructor(private readonly onFrame: (type: FrameType, id: number, payload: Buffer) => void) {}

  push(chunk: Buffer): void {
    this.pending = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
    while (this.pending.length >= HEADER) {
      const type = this.pending.readUInt8(0);
      const length = this.pending.readUInt32BE(5);
      if (type < FRAME.open || type > FRAME.close || length > MAX_PAYLOAD) throw new Error('malformed frame');
      if (this.pending.length < HEADER + length) return;
      const id = this.pending.readUInt32BE(1);
      const payload = this.pending.subarray(HEADER, HEADER + length);
      this.pending = this.pending.subarray(HEADER + length);
      this.onFrame(type as FrameType, id, payload);
    }
  }
}
