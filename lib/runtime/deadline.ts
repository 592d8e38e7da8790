/** The part of the Lambda context the pipeline uses (the local runner provides the same). */
export interface InvocationContext {
  getRemainingTimeInMillis(): number;
  readonly awsRequestId?: string;
}

/** Time kept back from the Lambda deadline to cancel a COPY, roll back and report cleanly. */
export const DEADLINE_MARGIN_MS = 15_000;

/** An AbortSignal that fires `margin` before the invocation runs out of time. */
export function deadlineSignal(context: InvocationContext, margin = DEADLINE_MARGIN_MS): AbortSignal {
  return AbortSignal.timeout(Math.max(1_000, context.getRemainingTimeInMillis() - margin));
}
