import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { functionsByHandler, MSK_VPC, resourcesOf, synth } from './support/synth.ts';

const CLUSTER =
  'arn:aws:kafka:eu-west-1:123456789012:cluster/platform/0b1c2d3e-1111-2222-3333-444455556666-7';
const BROKERS = 'b-1.platform.abc.c2.kafka.eu-west-1.amazonaws.com:9098';

describe('reaching MSK from the functions', () => {
  it('refuses MSK with a new VPC, which cannot reach the cluster, naming the vpc key', () => {
    assert.throws(() => synth({ mskClusterArn: CLUSTER, mskBootstrapBrokers: BROKERS }), /vpc/);
  });

  it("gives the functions that write to MSK one security group, let into the cluster's on 9098", () => {
    const { pipeline } = synth({
      mskClusterArn: CLUSTER,
      mskBootstrapBrokers: BROKERS,
      mskSecurityGroupId: 'sg-0123456789abcdef0',
      vpc: MSK_VPC,
    });
    const groups = Object.keys(resourcesOf(pipeline, 'AWS::EC2::SecurityGroup')).filter((id) =>
      id.startsWith('KafkaClients'),
    );
    assert.equal(groups.length, 1);
    const clients = groups[0];

    const ingress = Object.values(
      resourcesOf<{ GroupId: unknown; FromPort: number; ToPort: number; SourceSecurityGroupId: unknown }>(
        pipeline,
        'AWS::EC2::SecurityGroupIngress',
      ),
    ).filter((rule) => rule.Properties.GroupId === 'sg-0123456789abcdef0');
    assert.equal(ingress.length, 1);
    assert.deepEqual([ingress[0]?.Properties.FromPort, ingress[0]?.Properties.ToPort], [9098, 9098]);
    assert.match(JSON.stringify(ingress[0]?.Properties.SourceSecurityGroupId), new RegExp(String(clients)));

    const functions = functionsByHandler(pipeline);
    const inGroup = Object.entries(functions)
      .filter(([, fn]) => JSON.stringify(fn.properties.VpcConfig?.SecurityGroupIds).includes(String(clients)))
      .map(([name]) => name)
      .sort();
    assert.deepEqual(inGroup, ['export-group', 'fail-job', 'finalize', 'finalize-erasure']);
  });

  it("adds no rule to the cluster's group when its id is not given", () => {
    const { pipeline } = synth({ mskClusterArn: CLUSTER, mskBootstrapBrokers: BROKERS, vpc: MSK_VPC });

    const toPort9098 = Object.values(
      resourcesOf<{ FromPort: number }>(pipeline, 'AWS::EC2::SecurityGroupIngress'),
    ).filter((rule) => rule.Properties.FromPort === 9098);
    assert.equal(toPort9098.length, 0);
  });
});
