import type { DeadLetter, ReplayOutcome } from '../model/ingest.ts';

/** A dead letter an operator can read: the original record, the reason, and whether it was replayed. */
export type AdminDeadLetter = DeadLetter & {
  readonly id: string;
  readonly deadLetteredAt: string;
} & (
    | { readonly state: 'pending' }
    | {
        readonly state: 'replayed';
        readonly replay: {
          readonly replayedAt: string;
          readonly outcome: ReplayOutcome['outcome'];
          readonly jobId?: string;
          readonly reason?: string;
        };
      }
  );

/** What replaying every pending letter did, or that it was handed to a function that does it. */
export type ReplayAllResult =
  | {
      readonly mode: 'replayed';
      readonly replayed: ReadonlyArray<{ readonly id: string } & ReplayOutcome>;
    }
  | { readonly mode: 'invoked'; readonly functionName: string };

/**
 * The ingest dead letters, as an operator sees them. Locally the letters themselves (a file, browsable);
 * on AWS an SQS queue, which cannot be browsed without receiving — and so hiding — its messages: there the
 * depth alone is shown and a replay of all pending letters is handed to the dlq-replay function.
 */
export type DeadLetterAdmin =
  | {
      readonly browsable: true;
      /** The letters in the order they were dead-lettered, streamed. */
      list(): AsyncIterable<AdminDeadLetter>;
      /** Replays one pending letter: what became of it, `already-replayed`, or `undefined` for no such letter. */
      replay(id: string): Promise<ReplayOutcome | 'already-replayed' | undefined>;
      replayAll(): Promise<ReplayAllResult>;
    }
  | {
      readonly browsable: false;
      /** Messages waiting, and those received but not yet deleted (a replay in progress). */
      depth(): Promise<{ readonly waiting: number; readonly inFlight: number }>;
      replayAll(): Promise<ReplayAllResult>;
    };
