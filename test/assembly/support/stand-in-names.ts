import type { CfnResourceJson, CfnTemplate } from '../../../infra/definitions.ts';

export const REGION = 'us-east-1';
export const ACCOUNT = '000000000000';
/** Where the database proxy's endpoint resolves: a loopback address of its own, so port 5432 is free. */
export const DB_PROXY_HOST = '127.0.0.2';

/** A resource of the cloud assembly, with the stack that holds it. */
export interface AssemblyResource {
  readonly stackName: string;
  readonly logicalId: string;
  readonly resource: CfnResourceJson;
}

/**
 * Resolves the CloudFormation intrinsics of a cloud assembly's templates to the names and addresses of the
 * local stand-ins, the way a deployment resolves them to physical resources: a bucket's `Ref` is the
 * stand-in bucket's name, a queue's the ElasticMQ URL, the database proxy's endpoint the local proxy's
 * address; `Fn::ImportValue` follows the exporting stack's output. A reference to a resource with no
 * stand-in is an error naming it, so a new variable cannot pass unnoticed.
 */
export class StandInNames {
  readonly #templates: Readonly<Record<string, CfnTemplate>>;
  readonly #sqsEndpoint: string;

  constructor(templates: Readonly<Record<string, CfnTemplate>>, sqsEndpoint: string) {
    this.#templates = templates;
    this.#sqsEndpoint = sqsEndpoint;
  }

  /** Every resource of a type, across stacks. */
  resources(type: string): AssemblyResource[] {
    const found: AssemblyResource[] = [];
    for (const [stackName, template] of Object.entries(this.#templates)) {
      for (const [logicalId, resource] of Object.entries(template.Resources ?? {})) {
        if (resource.Type === type) found.push({ stackName, logicalId, resource });
      }
    }
    return found;
  }

  bucketName(logicalId: string): string {
    return `mb-${logicalId.toLowerCase()}`.slice(0, 63);
  }

  queueName(stackName: string, logicalId: string, resource: CfnResourceJson): string {
    const fifo = resource.Properties?.FifoQueue === true || resource.Properties?.FifoQueue === 'true';
    return `${stackName}-${logicalId}`.slice(0, fifo ? 75 : 80) + (fifo ? '.fifo' : '');
  }

  queueUrl(stackName: string, logicalId: string, resource: CfnResourceJson): string {
    return `${this.#sqsEndpoint}/${ACCOUNT}/${this.queueName(stackName, logicalId, resource)}`;
  }

  /** A generated secret's ARN, with the six-character suffix Secrets Manager adds. */
  secretArn(logicalId: string): string {
    return `arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:${logicalId}-AbCdEf`;
  }

  tableName(stackName: string, logicalId: string): string {
    return `${stackName}-${logicalId}`;
  }

  /** The template's `FunctionName` when it gives one, else a name as CloudFormation would generate it. */
  functionName(stackName: string, logicalId: string): string {
    const given = this.#templates[stackName]?.Resources?.[logicalId]?.Properties?.FunctionName;
    return typeof given === 'string' ? given : `${stackName}-${logicalId}`.slice(0, 64);
  }

  /** The ARN of a state machine: its `StateMachineName` when the template gives one. */
  stateMachineArn(stackName: string, logicalId: string): string {
    const given = this.#templates[stackName]?.Resources?.[logicalId]?.Properties?.StateMachineName;
    return `arn:aws:states:${REGION}:${ACCOUNT}:stateMachine:${typeof given === 'string' ? given : logicalId}`;
  }

  /** Resolves a template value (a string or an intrinsic) in the context of `stackName`. */
  resolve(stackName: string, value: unknown): string {
    if (typeof value === 'string') return value;
    if (typeof value === 'number' || typeof value === 'boolean') return String(value);
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      throw new Error(`${stackName}: cannot resolve ${JSON.stringify(value)}`);
    }
    const [[intrinsic, argument] = []] = Object.entries(value);
    switch (intrinsic) {
      case 'Ref':
        return this.#attribute(stackName, String(argument), undefined);
      case 'Fn::GetAtt': {
        const [logicalId, attribute] = Array.isArray(argument)
          ? argument.map(String)
          : String(argument).split(/\.(.*)/s);
        return this.#attribute(stackName, String(logicalId), attribute);
      }
      case 'Fn::ImportValue':
        return this.#imported(this.resolve(stackName, argument));
      case 'Fn::Join': {
        const [separator, parts] = argument as [string, unknown[]];
        return parts.map((part) => this.resolve(stackName, part)).join(separator);
      }
      case 'Fn::Sub': {
        const [text, variables = {}] = (Array.isArray(argument) ? argument : [argument]) as [
          string,
          Record<string, unknown>?,
        ];
        return text.replace(/\$\{([^}!]+)\}/g, (_all, name: string) => {
          if (name in variables) return this.resolve(stackName, variables[name]);
          const [logicalId = name, attribute] = name.split(/\.(.*)/s);
          return this.#attribute(stackName, logicalId, attribute === '' ? undefined : attribute);
        });
      }
      default:
        throw new Error(`${stackName}: unsupported intrinsic ${intrinsic}`);
    }
  }

  /** Resolves every value of an object (a function's environment variables). */
  resolveAll(stackName: string, values: Readonly<Record<string, unknown>>): Record<string, string> {
    return Object.fromEntries(
      Object.entries(values).map(([key, value]) => [key, this.resolve(stackName, value)]),
    );
  }

  #imported(exportName: string): string {
    for (const [stackName, template] of Object.entries(this.#templates)) {
      const outputs = (template.Outputs ?? {}) as Record<
        string,
        { Value: unknown; Export?: { Name?: unknown } }
      >;
      for (const output of Object.values(outputs)) {
        if (output.Export?.Name !== undefined && this.resolve(stackName, output.Export.Name) === exportName) {
          return this.resolve(stackName, output.Value);
        }
      }
    }
    throw new Error(`no stack exports ${exportName}`);
  }

  #attribute(stackName: string, logicalId: string, attribute: string | undefined): string {
    switch (logicalId) {
      case 'AWS::Region':
        return REGION;
      case 'AWS::AccountId':
        return ACCOUNT;
      case 'AWS::Partition':
        return 'aws';
      case 'AWS::URLSuffix':
        return 'amazonaws.com';
      case 'AWS::StackName':
        return stackName;
    }
    const resource = this.#templates[stackName]?.Resources?.[logicalId];
    if (!resource) throw new Error(`${stackName} has no resource ${logicalId}`);
    const what = `${resource.Type}.${attribute ?? 'Ref'}`;
    switch (what) {
      case 'AWS::S3::Bucket.Ref':
        return this.bucketName(logicalId);
      case 'AWS::S3::Bucket.Arn':
        return `arn:aws:s3:::${this.bucketName(logicalId)}`;
      case 'AWS::SQS::Queue.Ref':
        return this.queueUrl(stackName, logicalId, resource);
      case 'AWS::SQS::Queue.Arn':
        return `arn:aws:sqs:${REGION}:${ACCOUNT}:${this.queueName(stackName, logicalId, resource)}`;
      case 'AWS::SQS::Queue.QueueName':
        return this.queueName(stackName, logicalId, resource);
      case 'AWS::DynamoDB::Table.Ref':
        return this.tableName(stackName, logicalId);
      case 'AWS::DynamoDB::Table.Arn':
        return `arn:aws:dynamodb:${REGION}:${ACCOUNT}:table/${this.tableName(stackName, logicalId)}`;
      case 'AWS::StepFunctions::StateMachine.Ref':
      case 'AWS::StepFunctions::StateMachine.Arn':
        return this.stateMachineArn(stackName, logicalId);
      case 'AWS::Lambda::Function.Ref':
        return this.functionName(stackName, logicalId);
      case 'AWS::Lambda::Function.Arn':
        return `arn:aws:lambda:${REGION}:${ACCOUNT}:function:${this.functionName(stackName, logicalId)}`;
      case 'AWS::RDS::DBProxy.Endpoint':
        return DB_PROXY_HOST;
      case 'AWS::SecretsManager::Secret.Ref':
        return this.secretArn(logicalId);
      // An attachment (the secret given the instance's host and port) stands for its secret.
      case 'AWS::SecretsManager::SecretTargetAttachment.Ref':
        return this.resolve(stackName, resource.Properties?.SecretId);
      case 'AWS::Events::EventBus.Ref':
      case 'AWS::Events::EventBus.Name':
        return `${stackName}-${logicalId}`;
      default:
        throw new Error(`no stand-in for ${what} (${stackName}/${logicalId})`);
    }
  }
}
