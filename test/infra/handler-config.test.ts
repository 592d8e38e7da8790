import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { HANDLER_NAMES } from '../../infra/config.ts';
import { HANDLER_REQUIREMENTS, requirementVariables } from '../../lib/runtime/handler-config.ts';
import { functionsByHandler, MSK_VPC, synth } from './support/synth.ts';

const CLUSTER = 'arn:aws:kafka:eu-west-1:123456789012:cluster/imports/0a1b2c3d-4e5f-6a7b-8c9d-0e1f2a3b4c5d-2';
const BROKERS = 'b-1.imports.kafka.eu-west-1.amazonaws.com:9098';

/** The targets a function is deployed with: AWS with MSK, and LocalStack. */
const TARGETS: Readonly<Record<string, Record<string, unknown>>> = {
  aws: { mskClusterArn: CLUSTER, vpc: MSK_VPC, mskBootstrapBrokers: BROKERS },
  localstack: { target: 'localstack' },
};

describe("each function's template environment", () => {
  it('has a requirement list for every handler, and none for another', () => {
    assert.deepEqual(Object.keys(HANDLER_REQUIREMENTS).sort(), [...HANDLER_NAMES].sort());
  });

  for (const [target, context] of Object.entries(TARGETS)) {
    describe(target, () => {
      const functions = functionsByHandler(synth(context).pipeline);
      for (const name of HANDLER_NAMES) {
        it(`${name} gets every variable its handler requires at cold start`, () => {
          const env = functions[name]?.properties.Environment?.Variables ?? {};
          const missing = HANDLER_REQUIREMENTS[name]
            .map(requirementVariables)
            .filter((variables) => variables.every((variable) => env[variable] === undefined));

          assert.deepEqual(missing, []);
        });
      }
    });
  }
});
