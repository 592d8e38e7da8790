/**
 * Views of the bytes `[from, to)` of consecutive chunks whose first byte is at offset `chunksStart`
 * (no copy; empty when the chunks do not cover the span).
 */
export function sliceChunks(
  chunks: readonly Uint8Array[],
  chunksStart: number,
  from: number,
  to: number,
): Buffer[] {
  const pieces: Buffer[] = [];
  let offset = chunksStart;
  for (const chunk of chunks) {
    const end = offset + chunk.length;
    if (end > from && offset < to) {
      const view = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length);
      pieces.push(view.subarray(Math.max(from - offset, 0), Math.min(to - offset, chunk.length)));
    }
    offset = end;
    if (offset >= to) break;
  }
  return pieces;
}

/** The bytes `[from, to)` of consecutive chunks as one buffer (a view when they lie in one chunk). */
export function joinChunks(
  chunks: readonly Uint8Array[],
  chunksStart: number,
  from: number,
  to: number,
): Buffer {
  const pieces = sliceChunks(chunks, chunksStart, from, to);
  return pieces.length === 1 ? pieces[0]! : Buffer.concat(pieces);
}
