import { type CfnResource, type Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import type { Construct } from 'constructs';
import { METADATA_KEYS } from '../metadata.ts';
import { physicalName } from '../naming.ts';

/** What differs between the pipeline's state machines. */
export interface PipelineStateMachineProps {
  /** The name the local runner and Monitoring know it by (template metadata). */
  readonly machineName: string;
  readonly definition: sfn.IChainable;
  readonly timeout: Duration;
  readonly logRetention: logs.RetentionDays;
}

/**
 * A STANDARD state machine as every one of the pipeline is made: named `<namePrefix>-<machineName>` (e.g.
 * `matchbridge-prod-import`), X-Ray tracing, ERROR logs with execution
 * data in its own log group, and tagged with its name in the template's metadata, where the local runner
 * (which runs the synthesized definition) and the monitoring find it.
 */
export function pipelineStateMachine(scope: Construct, props: PipelineStateMachineProps): sfn.StateMachine {
  const name = physicalName(scope, props.machineName);
  const machine = new sfn.StateMachine(scope, 'StateMachine', {
    stateMachineName: name,
    definitionBody: sfn.DefinitionBody.fromChainable(props.definition),
    stateMachineType: sfn.StateMachineType.STANDARD,
    timeout: props.timeout,
    tracingEnabled: true,
    logs: {
      destination: new logs.LogGroup(scope, 'Logs', {
        // The vended-logs prefix keeps Step Functions from growing the account's CloudWatch Logs resource
        // policy with one statement per log group.
        logGroupName: `/aws/vendedlogs/states/${name}`,
        retention: props.logRetention,
        removalPolicy: RemovalPolicy.DESTROY,
      }),
      level: sfn.LogLevel.ERROR,
      includeExecutionData: true,
    },
  });
  (machine.node.defaultChild as CfnResource).addMetadata(METADATA_KEYS.stateMachine, props.machineName);
  return machine;
}
