import { JAVA_CLIENT_PROGRAM, OPENAPI_GENERATOR_PROGRAM } from '../../clients/generate.ts';
import { ELASTICMQ_PROGRAM } from '../elasticmq/elasticmq.ts';
import { KAFKA_PROGRAM } from '../kafka/artifacts.ts';
import { resolveMavenArtifacts } from './artifacts.ts';

// Run by scripts/java-artifacts.sh before the tests: a missing jar shows here, not in the middle of a suite.
for (const program of [KAFKA_PROGRAM, ELASTICMQ_PROGRAM, OPENAPI_GENERATOR_PROGRAM, JAVA_CLIENT_PROGRAM]) {
  const started = performance.now();
  const artifacts = await resolveMavenArtifacts(program);
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  console.log(`${program.name} ${artifacts.version}: ${artifacts.libDir} (${seconds} s)`);
}
