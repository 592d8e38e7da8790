import { join } from 'node:path';
import { type MavenArtifacts, type MavenProgram, resolveMavenArtifacts } from '../maven/artifacts.ts';
import { KafkaUnavailableError } from './kafka-unavailable-error.ts';

/** The broker: the pom whose runtime dependencies are its classpath; its `kafka.version` is the broker version. */
export const KAFKA_PROGRAM: MavenProgram = {
  name: 'kafka',
  pom: join(import.meta.dirname, 'pom.xml'),
  versionProperty: 'kafka.version',
  unavailable: (reason, options) => new KafkaUnavailableError(reason, options),
};

/** The broker's jars in `.cache/kafka/`, fetched once (see {@link resolveMavenArtifacts}). */
export function resolveKafkaArtifacts(): Promise<MavenArtifacts> {
  return resolveMavenArtifacts(KAFKA_PROGRAM);
}
