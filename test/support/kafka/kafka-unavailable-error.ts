/**
 * The test Kafka broker cannot run on this machine (no Java 17+, no Maven, artifacts unreachable, broker failed to
 * start). The message starts with `KAFKA_UNAVAILABLE:` so a failing test says why at a glance; tests fail on it,
 * they never skip.
 */
export class KafkaUnavailableError extends Error {
  readonly code = 'KAFKA_UNAVAILABLE';

  constructor(reason: string, options?: ErrorOptions) {
    super(`KAFKA_UNAVAILABLE: ${reason}`, options);
    this.name = 'KafkaUnavailableError';
  }
}
