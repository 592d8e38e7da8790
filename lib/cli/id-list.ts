import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';

/** Ids from `--ids a,b,c`, or streamed from `--ids-file` (one per line; blank lines are not ids). */
export async function* idList(options: {
  ids?: string | undefined;
  'ids-file'?: string | undefined;
}): AsyncGenerator<string> {
  if (options.ids !== undefined) {
    yield* options.ids.split(',');
    return;
  }
  const path = options['ids-file'] ?? '';
  const lines = createInterface({ input: createReadStream(path), crlfDelay: Number.POSITIVE_INFINITY });
  for await (const line of lines) if (line.trim() !== '') yield line;
}
