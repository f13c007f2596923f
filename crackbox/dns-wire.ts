// DNS wire helpers shared by the server and the upstream client: TCP length framing, and decoding that stays cheap
// for garbage. Packets themselves are parsed and built only by dns-packet.
import * as dnsPacket from 'dns-packet';
import type { DecodedPacket } from 'dns-packet';

/**
 * Could the header's section counts fit in the packet at all? dns-packet allocates arrays sized by those counts before
 * it finds out, which makes garbage datagrams cost milliseconds each; this check keeps them at microseconds.
 */
export function plausibleCounts(raw: Buffer): boolean {
  if (raw.length < 12) return false;
  const questions = raw.readUInt16BE(4);
  const records = raw.readUInt16BE(6) + raw.readUInt16BE(8) + raw.readUInt16BE(10);
  // A question takes at least 5 bytes (root name, type, class), a resource record at least 11.
  return 12 + questions * 5 + records * 11 <= raw.length;
}

/** The decoded packet, or null for anything malformed. Never throws. */
export function decodeSafely(raw: Buffer): DecodedPacket | null {
  if (!plausibleCounts(raw)) return null;
  try {
    return dnsPacket.decode(raw);
  } catch {
    return null;
  }
}

/**
 * Splits a TCP byte stream into DNS messages (each preceded by a 2-byte length). Returns the function to feed chunks
 * to; `onFrame` returning false stops reading (the caller is closing the connection).
 */
export function frameReader(onFrame: (frame: Buffer) => boolean | void): (chunk: Buffer) => void {
  let buffered: Buffer = Buffer.alloc(0);
  return (chunk) => {
    buffered = buffered.length === 0 ? chunk : Buffer.concat([buffered, chunk]);
    while (buffered.length >= 2) {
      const length = buffered.readUInt16BE(0);
      if (buffered.length < 2 + length) return;
      const frame = buffered.subarray(2, 2 + length);
      buffered = buffered.subarray(2 + length);
      if (onFrame(frame) === false) return;
    }
  };
}
