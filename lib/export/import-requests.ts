import { createHash } from 'node:crypto';
import type { ExportGroupRef } from './types.ts';

/**
 * The node import request of a file (DESIGN: node import request): what a cost-based export sends. `asOf`
 * is the export run's time, so a replay of it after a newer import writes nothing over the newer data.
 */
export function fileImportRequest(
  group: ExportGroupRef,
  filePath: string,
  fileName: string,
  asOf: string,
): string {
  return JSON.stringify({
    domainId: group.domainId,
    groupId: group.groupId,
    ...fileFields(filePath, fileName),
    asOf,
  });
}

/** The source fields of a file import request: what a cost-based group's first request carries. */
export function fileFields(filePath: string, fileName: string): Record<string, string> {
  return { filePath, fileName, contentType: 'application/gzip' };
}

/** Which list a {@link UsernameChunker} fills, and what its first request carries besides. */
export interface ChunkerOptions {
  /** `usernames` (the default: members to import) or `removedUsernames` (members that left). */
  readonly field?: 'usernames' | 'removedUsernames';
  /** Fields of the first request only, before the list (a cost-based group's file request). */
  readonly firstFields?: Readonly<Record<string, string>>;
  /** Fields of every request, before the list and after `firstFields` (the run's `asOf`). */
  readonly fields?: Readonly<Record<string, string>>;
}

/**
 * Collects usernames into import requests (`{domainId, groupId, usernames}`, or `removedUsernames`) whose
 * JSON value stays within `maxBytes`: `add` returns a full request's value when the next name would not fit,
 * `flush` the rest. Only one request's names are held at a time.
 */
export class UsernameChunker {
  readonly #group: Pick<ExportGroupRef, 'domainId' | 'groupId'>;
  readonly #field: string;
  readonly #maxBytes: number;
  readonly #fields: Readonly<Record<string, string>>;
  #prefix = '';
  #emptyBytes = 0;
  #names: string[] = [];
  #bytes = 0;

  constructor(
    group: Pick<ExportGroupRef, 'domainId' | 'groupId'>,
    maxBytes: number,
    options: ChunkerOptions = {},
  ) {
    this.#group = group;
    this.#field = options.field ?? 'usernames';
    this.#maxBytes = maxBytes;
    this.#fields = options.fields ?? {};
    this.#envelope(options.firstFields ?? {});
  }

  #envelope(fields: Readonly<Record<string, string>>): void {
    const envelope = JSON.stringify({
      domainId: this.#group.domainId,
      groupId: this.#group.groupId,
      ...fields,
      ...this.#fields,
      [this.#field]: [],
    });
    // Everything up to the list's opening bracket; a value is this, the names joined by commas, and `]}`.
    this.#prefix = envelope.slice(0, -2);
    this.#emptyBytes = Buffer.byteLength(envelope);
    this.#bytes = this.#emptyBytes;
  }

  /**
   * Adds a name; returns the value of the request that was full before it, if one was.
   * @throws RangeError when the name alone does not fit a request.
   */
  add(username: string): string | undefined {
    const json = JSON.stringify(username);
    const size = Buffer.byteLength(json);
    const full = this.#names.length > 0 && this.#bytes + 1 + size > this.#maxBytes ? this.flush() : undefined;
    const next = this.#bytes + (this.#names.length > 0 ? 1 : 0) + size;
    if (next > this.#maxBytes) {
      throw new RangeError(`a username of ${size} bytes does not fit a request of ${this.#maxBytes} bytes`);
    }
    this.#names.push(json);
    this.#bytes = next;
    return full;
  }

  /** The value of the request holding the names collected so far, if any; later ones have no first fields. */
  flush(): string | undefined {
    if (this.#names.length === 0) return undefined;
    const value = `${this.#prefix}${this.#names.join(',')}]}`;
    this.#names = [];
    this.#envelope({});
    return value;
  }
}

/**
 * The `idempotency-key` header of a request: the run, the group, the request's place and a digest of its
 * value. Ingest derives the job id from it, so a request sent again by a retried attempt of the same run
 * starts no second job, while a request with other content is never taken for a duplicate.
 */
export function requestIdempotencyKey(
  runId: string,
  group: Pick<ExportGroupRef, 'domainId' | 'groupId'>,
  index: number,
  value: string,
): string {
  const digest = createHash('sha256').update(value).digest('hex').slice(0, 16);
  return `user-export:${runId}:${group.domainId}:${group.groupId}:${index}:${digest}`;
}
