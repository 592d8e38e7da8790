import { z } from 'zod';
import { InvalidRequestError } from '../errors.ts';
import type { ErasureExecutionInput } from '../model/types.ts';

/** The group of an erasure job's row when every group of the domain is erased (a group id is never empty). */
export const EVERY_GROUP = '*';

/**
 * The erasure request of the design (Kafka value on an erasure topic). Unknown fields are ignored, as
 * producers add their own. Ids are bounded only so a value stays sane: an id that cannot be a reference is
 * counted failed by the job, as a reference import counts it.
 */
export const ErasureRequestSchema = z.object({
  domainId: z.uuid(),
  groupId: z.string().trim().min(1).max(255).optional(),
  eraseReferenceIds: z.array(z.string().max(4096)).min(1),
});

export type ErasureRequest = z.infer<typeof ErasureRequestSchema>;

/**
 * Decodes and validates an erasure request.
 *
 * @throws InvalidRequestError `NOT_JSON` or `SCHEMA_VIOLATION` (with every problem).
 */
export function parseErasureRequest(value: string): ErasureRequest {
  let json: unknown;
  try {
    json = JSON.parse(value);
  } catch {
    throw new InvalidRequestError('NOT_JSON', 'value is not JSON');
  }
  const parsed = ErasureRequestSchema.safeParse(json);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.') || 'request'}: ${i.message}`);
    throw new InvalidRequestError('SCHEMA_VIOLATION', problems.join('; '), { problems });
  }
  return parsed.data;
}

/** The execution input of an erasure whose id list was staged at `uri`; no group means every group. */
export function erasureInput(
  target: { readonly domainId: string; readonly groupId?: string | undefined },
  jobId: string,
  origin: string,
  uri: string,
): ErasureExecutionInput {
  return {
    jobId,
    kind: 'erasure',
    domainId: target.domainId,
    groupId: target.groupId ?? EVERY_GROUP,
    everyGroup: target.groupId === undefined,
    source: { uri, kind: 'references' },
    origin,
  };
}
