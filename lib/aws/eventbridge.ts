import {
  EventBridgeClient,
  PutEventsCommand,
  type PutEventsCommandOutput,
} from '@aws-sdk/client-eventbridge';
import { MatchbridgeError } from '../errors.ts';
import type { StatusEnvelope, StatusPublisher } from '../model/status.ts';
import type { JobStatusMessage } from '../model/types.ts';

/** `source` of the events Matchbridge puts on EventBridge. */
export const EVENT_SOURCE = 'matchbridge';
/** `detail-type` of the event of a finished import job; its detail is the status message. */
export const JOB_FINISHED_DETAIL_TYPE = 'ImportJobFinished';

/** EventBridge's limit on one PutEvents entry is 256 KiB; leave room for the envelope. */
const MAX_DETAIL_BYTES = 240 * 1024;

/** EventBridge accepted the request but not the entry (throttled, internal failure…). */
export class EventRejectedError extends MatchbridgeError {
  readonly code = 'EVENT_REJECTED';
  override readonly transient = true;
}

/** The part of the EventBridge client the publisher uses. */
export interface PutEventsClient {
  send(command: PutEventsCommand): Promise<PutEventsCommandOutput>;
}

/**
 * The event detail: the status message; when it would not fit in an entry, the message with its lists left
 * empty (the complete lists stay reachable through `successListUri` and `failedListUri`).
 */
export function jobFinishedDetail(message: JobStatusMessage): string {
  const detail = JSON.stringify(message);
  if (Buffer.byteLength(detail) <= MAX_DETAIL_BYTES) return detail;
  return JSON.stringify({ ...message, successList: [], failedList: [] });
}

/**
 * Publishes each status message as an `ImportJobFinished` event (source `matchbridge`) on `busName`.
 * Recorded in `job_status_events` under `eventbridge:<busName>`.
 */
export function eventBridgeStatusPublisher(
  busName: string,
  options: { readonly region: string; readonly client?: PutEventsClient },
): StatusPublisher {
  let client = options.client;
  return {
    destination: () => `eventbridge:${busName}`,
    async publish(envelope: StatusEnvelope) {
      client ??= new EventBridgeClient({ region: options.region });
      const output = await client.send(
        new PutEventsCommand({
          Entries: [
            {
              EventBusName: busName,
              Source: EVENT_SOURCE,
              DetailType: JOB_FINISHED_DETAIL_TYPE,
              Detail: jobFinishedDetail(envelope.message),
            },
          ],
        }),
      );
      const entry = output.Entries?.[0];
      if ((output.FailedEntryCount ?? 0) > 0 || entry?.ErrorCode) {
        throw new EventRejectedError(
          `EventBridge rejected the event: ${entry?.ErrorCode ?? 'unknown'}: ${entry?.ErrorMessage ?? ''}`,
          { busName, errorCode: entry?.ErrorCode },
        );
      }
      return 'SENT';
    },
  };
}
