import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as rds from 'aws-cdk-lib/aws-rds';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as cr from 'aws-cdk-lib/custom-resources';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { IConstruct } from 'constructs';
import { BulkApi } from './constructs/bulk-api.ts';
import { DeadLetterQueue } from './constructs/dead-letter-queue.ts';
import { MatchbridgeFunction } from './constructs/matchbridge-function.ts';

/**
 * cdk-nag (AwsSolutions) for the app. What we accept is listed here per construct, each with its reason:
 * a rule, optionally narrowed to the findings (`Rule[finding]`) matching a pattern (findings embed resolved
 * tokens, so exact ids would break with every logical id). Anything else is an open finding: `cdk synth`
 * (infra/app.ts) fails on it, and so do the tests.
 */
interface Acknowledgement {
  readonly rule: string;
  /** Only findings matching this (the `…` of `Rule[…]`); without it, findings-free violations of the rule. */
  readonly finding?: RegExp;
  readonly reason: string;
}

interface OwnerAcknowledgements {
  /** Which constructs these are for; a violation is matched against its resource's nearest owning ancestor. */
  readonly owner: (construct: IConstruct) => boolean;
  readonly acknowledgements: readonly Acknowledgement[];
}

const LAMBDA_MANAGED_POLICIES: Acknowledgement = {
  rule: 'AwsSolutions-IAM4',
  finding:
    /^Policy::arn:<AWS::Partition>:iam::aws:policy\/service-role\/AWSLambda(Basic|VPCAccess|MSK)ExecutionRole$/,
  reason:
    "AWS's minimal managed policies for a function's own logs, its VPC network interfaces and (ingest) reading its MSK event source; they grant nothing on our data.",
};

/** The role EventBridge Scheduler targets share (aws-scheduler-targets' singleton, known by its id). */
const isSchedulerTargetRole = (c: IConstruct) => c.node.id.startsWith('SchedulerRoleForTarget');

/** CDK's singleton behind `eventBridgeEnabled` (not exported, so known by its id). */
const isBucketNotificationsHandler = (c: IConstruct) => c.node.id.startsWith('BucketNotificationsHandler');

export const ACKNOWLEDGEMENTS: readonly OwnerAcknowledgements[] = [
  {
    owner: (c) => c instanceof MatchbridgeFunction,
    acknowledgements: [
      LAMBDA_MANAGED_POLICIES,
      {
        rule: 'AwsSolutions-IAM5',
        finding: /^Resource::\*$/,
        reason:
          'X-Ray (xray:PutTraceSegments, PutTelemetryRecords) and the VPC network interface actions accept no resource ARN.',
      },
      {
        rule: 'AwsSolutions-IAM5',
        finding: /^Action::s3:(Abort|DeleteObject|GetBucket|GetObject|List)\*$/,
        reason:
          "CDK's bucket grants (read/write of the pipeline's own bucket, read of source buckets): action groups on named buckets only.",
      },
      {
        rule: 'AwsSolutions-IAM5',
        finding: /^Resource::.*(StagingBucket|arn:<AWS::Partition>:s3:::[a-z0-9.-]+).*\/\*$/,
        reason:
          'Objects of one named bucket: keys are per job (staging/<jobId>/…, reports/<jobId>/…) and not known in advance.',
      },
    ],
  },
  {
    owner: (c) => c instanceof MatchbridgeFunction && c.handlerName === 'api',
    acknowledgements: [
      {
        rule: 'AwsSolutions-IAM5',
        finding: /^Resource::<DlqReplay[A-Za-z0-9]+\.Arn>:\*$/,
        reason:
          "The console's replay of every pending dead letter invokes the dlq-replay function (CDK's invoke grant covers its versions and aliases).",
      },
    ],
  },
  {
    owner: (c) => c instanceof MatchbridgeFunction && c.handlerName === 'export-group',
    acknowledgements: [
      {
        rule: 'AwsSolutions-IAM5',
        finding: /^Resource::arn:aws[a-z-]*:kafka:[^:]+:\d{12}:topic\/.+\/\*-users$/,
        reason:
          "Each group's import requests go to its own export_topic, read from the database at run time; MSK writes are limited to the cluster's `*-users` topics (the topic naming convention).",
      },
    ],
  },
  {
    owner: (c) => c instanceof sfn.StateMachine,
    acknowledgements: [
      {
        rule: 'AwsSolutions-SF1',
        reason:
          'Logs ERROR events with their execution data: every failure is logged with its input; ALL would log the payload of each of up to 600 Map iterations per job.',
      },
      {
        rule: 'AwsSolutions-IAM5',
        finding: /^Resource::<[A-Za-z0-9]+\.Arn>:\*$/,
        reason: 'Invoking our own functions by any version or alias (CDK LambdaInvoke grant).',
      },
      {
        rule: 'AwsSolutions-IAM5',
        finding: /^Resource::\*$/,
        reason: 'X-Ray tracing and CloudWatch Logs vended delivery actions accept no resource ARN.',
      },
      {
        rule: 'AwsSolutions-IAM5',
        finding: /^Resource::arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:execution:.*:\*$/,
        reason:
          "The Distributed Map's child executions of this state machine: their names are generated at run time.",
      },
    ],
  },
  {
    owner: (c) => c instanceof BulkApi,
    acknowledgements: [
      {
        rule: 'AwsSolutions-APIG3',
        reason:
          "Every method requires IAM (SigV4): API Gateway refuses unsigned requests before the function runs, and the callers are the domains' back-end services mapped in api_callers, not browsers. WAF's managed rules target anonymous web traffic; the bodies are bulk files the function validates row by row.",
      },
      {
        rule: 'AwsSolutions-IAM4',
        finding:
          /^Policy::arn:<AWS::Partition>:iam::aws:policy\/service-role\/AmazonAPIGatewayPushToCloudWatchLogs$/,
        reason:
          "API Gateway's account-wide CloudWatch Logs role (AWS::ApiGateway::Account): AWS's managed policy is the one API Gateway documents for it, and grants log writing only.",
      },
      {
        rule: 'AwsSolutions-COG4',
        reason:
          "Callers are AWS principals (the domains' services and roles) authorised by IAM SigV4 and mapped to a domain in api_callers: there are no end users to keep in a Cognito user pool.",
      },
    ],
  },
  {
    owner: isSchedulerTargetRole,
    acknowledgements: [
      {
        rule: 'AwsSolutions-IAM5',
        finding: /^Resource::<Prune[A-Za-z0-9]*\.Arn>:\*$/,
        reason:
          "The daily retention schedule invoking the prune function by any version or alias (CDK's LambdaInvoke grant); nothing else.",
      },
    ],
  },
  {
    owner: (c) => c instanceof DeadLetterQueue,
    acknowledgements: [
      {
        rule: 'AwsSolutions-SQS3',
        reason: 'This queue is itself a dead-letter queue (a destination); it has an alarm on depth > 0.',
      },
    ],
  },
  {
    owner: (c) => c instanceof rds.DatabaseInstance,
    acknowledgements: [
      {
        rule: 'AwsSolutions-RDS11',
        reason:
          "Only the RDS Proxy's security group reaches the instance, in isolated subnets: a non-default port would add nothing.",
      },
      {
        rule: 'AwsSolutions-RDS3',
        reason: 'The dev preset is single-AZ to save cost; the prod preset (database.multiAz) is Multi-AZ.',
      },
      {
        rule: 'AwsSolutions-RDS10',
        reason: 'The dev preset can be torn down; the prod preset enables deletion protection.',
      },
    ],
  },
  {
    owner: (c) => c instanceof ec2.InterfaceVpcEndpoint,
    acknowledgements: [
      {
        rule: 'AwsSolutions-EC23',
        reason:
          "HTTPS from the VPC's own CIDR block (an Fn::GetAtt cdk-nag cannot resolve), not from anywhere.",
      },
    ],
  },
  {
    owner: (c) => c instanceof cr.Provider,
    acknowledgements: [
      LAMBDA_MANAGED_POLICIES,
      {
        rule: 'AwsSolutions-IAM5',
        finding: /^Resource::<[A-Za-z0-9]+\.Arn>:\*$/,
        reason: "The custom-resource framework invokes the migrate function by any version (CDK's Provider).",
      },
      {
        rule: 'AwsSolutions-L1',
        reason: "The custom-resource framework's runtime is chosen by aws-cdk-lib, updated with it.",
      },
    ],
  },
  {
    owner: isBucketNotificationsHandler,
    acknowledgements: [
      {
        ...LAMBDA_MANAGED_POLICIES,
        reason: "CDK's singleton that turns on the bucket's EventBridge notifications at deploy: logs only.",
      },
    ],
  },
];

/** A finding the pack reports: the rule (with its finding) and the path of the resource. */
export interface NagFinding {
  readonly rule: string;
  readonly path: string;
  /** Why it is accepted; unset for an open finding. */
  readonly reason?: string;
}

function split(ruleName: string): { rule: string; finding?: string } {
  const open = ruleName.indexOf('[');
  if (open < 0 || !ruleName.endsWith(']')) return { rule: ruleName };
  return { rule: ruleName.slice(0, open), finding: ruleName.slice(open + 1, -1) };
}

function findByPath(root: IConstruct, path: string): IConstruct | undefined {
  let current: IConstruct | undefined = root;
  for (const id of path.split('/')) current = current?.node.tryFindChild(id);
  return current;
}

/** The reason of the acknowledgement covering `ruleName` on `construct` or an ancestor, if any. */
function acknowledgementFor(construct: IConstruct, ruleName: string): string | undefined {
  const { rule, finding } = split(ruleName);
  for (let current: IConstruct | undefined = construct; current; current = current.node.scope) {
    for (const entry of ACKNOWLEDGEMENTS) {
      if (!entry.owner(current)) continue;
      const match = entry.acknowledgements.find(
        (ack) =>
          ack.rule === rule &&
          (ack.finding === undefined
            ? finding === undefined
            : finding !== undefined && ack.finding.test(finding)),
      );
      if (match) return match.reason;
    }
  }
  return undefined;
}

/**
 * Runs the AwsSolutions pack over a synthesized app (after `app.synth()`, so cross-stack references are in
 * their final form) and sorts each finding into acknowledged (with its reason) or open.
 */
export function nagReport(app: IConstruct): { acknowledged: NagFinding[]; open: NagFinding[] } {
  const acknowledged: NagFinding[] = [];
  const open: NagFinding[] = [];
  const report = new AwsSolutionsChecks().validateScope(app);
  for (const violation of report.violations) {
    for (const resource of violation.violatingResources) {
      const path = resource.constructPath ?? resource.resourceLogicalId ?? '';
      const construct = findByPath(app, path);
      const reason = construct && acknowledgementFor(construct, violation.ruleName);
      if (reason) acknowledged.push({ rule: violation.ruleName, path, reason });
      else open.push({ rule: violation.ruleName, path });
    }
  }
  return { acknowledged, open };
}
