/** ElasticMQ cannot run on this machine (no Java, jars unreachable, server did not start); tests fail on it. */
export class ElasticMqUnavailableError extends Error {
  readonly code = 'ELASTICMQ_UNAVAILABLE';

  constructor(reason: string, options?: ErrorOptions) {
    super(`ELASTICMQ_UNAVAILABLE: ${reason}`, options);
    this.name = 'ElasticMqUnavailableError';
  }
}
