import type { Context } from 'aws-lambda';
import { logger, metrics } from '../observability/logger.ts';

/**
 * Wraps a handler body with what every Lambda does: the invocation context on each log line, and the
 * metrics recorded during the invocation flushed (as CloudWatch EMF) when it ends, whatever the outcome.
 */
export function lambdaHandler<E, R>(body: (event: E, context: Context) => Promise<R>) {
  return async (event: E, context: Context): Promise<R> => {
    logger.addContext(context);
    try {
      return await body(event, context);
    } finally {
      if (metrics.hasStoredMetrics()) metrics.publishStoredMetrics();
    }
  };
}
