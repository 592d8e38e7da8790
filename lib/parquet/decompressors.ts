import { brotliDecompressSync, gunzipSync, zstdDecompressSync } from 'node:zlib';
import type { CompressionCodec, Compressors } from 'hyparquet';
import { compressors } from 'hyparquet-compressors';

/**
 * Page decompressors for hyparquet: SNAPPY (hysnappy, WebAssembly), LZ4 and LZ4_RAW from
 * hyparquet-compressors; GZIP, ZSTD and BROTLI from node:zlib, which is native and several times faster than
 * the JavaScript ports. zlib reads concatenated gzip members and zstd frames, as some writers produce.
 * UNCOMPRESSED needs none; LZO is not supported.
 */
export const parquetDecompressors: Compressors = {
  ...compressors,
  GZIP: (input) => gunzipSync(input),
  ZSTD: (input) => zstdDecompressSync(input),
  BROTLI: (input) => brotliDecompressSync(input),
};

/** True when pages compressed with `codec` can be read. */
export function isSupportedCodec(codec: CompressionCodec): boolean {
  return codec === 'UNCOMPRESSED' || parquetDecompressors[codec] !== undefined;
}
