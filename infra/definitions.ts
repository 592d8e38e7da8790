import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CloudAssembly } from 'aws-cdk-lib/cx-api';
import type { StateMachineDefinition } from 'aws-local-stepfunctions';
import { buildApp } from './build-app.ts';
import { METADATA_KEYS } from './metadata.ts';

/**
 * The state machines exactly as `cdk synth` produces them, made runnable by the local runner: the
 * definition with every function reference replaced by a local ARN naming the handler, and each Task state
 * bound to its handler.
 */

/** One resource of a CloudFormation template (only what is read here is typed). */
export interface CfnResourceJson {
  readonly Type: string;
  readonly Properties?: Readonly<Record<string, unknown>>;
  readonly Metadata?: Readonly<Record<string, unknown>>;
  readonly DependsOn?: string | readonly string[];
}

/** A synthesized CloudFormation template. */
export interface CfnTemplate {
  readonly Resources?: Readonly<Record<string, CfnResourceJson>>;
  readonly [section: string]: unknown;
}

/** An Amazon States Language definition, as the local runner (aws-local-stepfunctions) takes it. */
export type AslDefinition = StateMachineDefinition;

/** A state machine ready for the local runner. */
export interface ExtractedStateMachine {
  readonly definition: AslDefinition;
  /** Task state name (at any depth: Map item processors, Parallel branches) → handler name. */
  readonly taskHandlers: Readonly<Record<string, string>>;
}

/** Raised when the templates lack something the local runner needs; the message says what and where. */
export class DefinitionExtractionError extends Error {
  readonly code = 'DEFINITION_EXTRACTION_FAILED';
  constructor(message: string) {
    super(message);
    this.name = 'DefinitionExtractionError';
  }
}

const LOCAL_FUNCTION_ARN_PREFIX = 'arn:aws:lambda:local:000000000000:function:';

/** The ARN a function reference is replaced with: `arn:aws:lambda:local:000000000000:function:<handler>`. */
export function localFunctionArn(handlerName: string): string {
  return `${LOCAL_FUNCTION_ARN_PREFIX}${handlerName}`;
}

/** What any other resource reference is replaced with: recognisable, never mistaken for a real ARN. */
function placeholderArn(logicalId: string, attribute: string): string {
  return `arn:aws:local:local:000000000000:unresolved/${logicalId}/${attribute}`;
}

const PSEUDO_PARAMETERS: Readonly<Record<string, string>> = {
  'AWS::Partition': 'aws',
  'AWS::Region': 'local',
  'AWS::AccountId': '000000000000',
  'AWS::URLSuffix': 'amazonaws.com',
  'AWS::NoValue': '',
};

/**
 * Synthesizes the app in-process, without bundling and without CDK's template validation (`cdk synth`
 * does both; neither changes a template); returns each stack's template by stack name.
 */
export function synthesizeTemplates(
  opts: { context?: Record<string, unknown> } = {},
): Record<string, CfnTemplate> {
  const outdir = mkdtempSync(join(tmpdir(), 'matchbridge-synth-'));
  try {
    const { app } = buildApp({
      skipBundling: true,
      validation: false,
      outdir,
      ...(opts.context ? { context: opts.context } : {}),
    });
    return templatesOf(app.synth());
  } finally {
    rmSync(outdir, { recursive: true, force: true });
  }
}

/** Reads the templates of a cloud assembly directory (`cdk synth -o <dir>`), nested assemblies included. */
export function readTemplatesFromCdkOut(dir: string): Record<string, CfnTemplate> {
  return templatesOf(new CloudAssembly(dir));
}

function templatesOf(assembly: CloudAssembly): Record<string, CfnTemplate> {
  const templates: Record<string, CfnTemplate> = {};
  for (const stack of assembly.stacksRecursively) {
    if (stack.stackName in templates) {
      throw new DefinitionExtractionError(`two stacks of the cloud assembly are named ${stack.stackName}`);
    }
    templates[stack.stackName] = stack.template as CfnTemplate;
  }
  return templates;
}

/**
 * Finds every state machine carrying `matchbridge:state-machine` metadata, resolves its DefinitionString
 * (function references → {@link localFunctionArn}, pseudo parameters → local values, anything else → a
 * placeholder ARN) and binds each Task state invoking one of our functions to the function's handler.
 */
export function extractStateMachines(
  templates: Readonly<Record<string, CfnTemplate>>,
): Record<string, ExtractedStateMachine> {
  const machines: Record<string, ExtractedStateMachine> = {};
  for (const [stackName, template] of Object.entries(templates)) {
    for (const [logicalId, resource] of Object.entries(template.Resources ?? {})) {
      if (resource.Type !== 'AWS::StepFunctions::StateMachine') continue;
      const name = resource.Metadata?.[METADATA_KEYS.stateMachine];
      if (name === undefined) continue;
      const where = `state machine ${logicalId} of stack ${stackName}`;
      if (typeof name !== 'string' || name === '') {
        throw new DefinitionExtractionError(
          `${where}: ${METADATA_KEYS.stateMachine} must be a non-empty string`,
        );
      }
      if (name in machines) {
        throw new DefinitionExtractionError(`${where}: a second state machine named '${name}'`);
      }
      const resolver = new TemplateResolver(template, stackName, where);
      const definitionString = resource.Properties?.DefinitionString;
      if (definitionString === undefined) {
        throw new DefinitionExtractionError(
          `${where} has no DefinitionString (Definition and DefinitionS3Location are not supported)`,
        );
      }
      const text = resolver.substitute(
        resolver.resolve(definitionString),
        resource.Properties?.DefinitionSubstitutions,
      );
      let definition: unknown;
      try {
        definition = JSON.parse(text);
      } catch (error) {
        throw new DefinitionExtractionError(
          `${where}: the resolved definition is not JSON (${String(error)})`,
        );
      }
      const taskHandlers: Record<string, string> = {};
      collectTaskHandlers(definition as StatesView, taskHandlers, where);
      machines[name] = { definition: definition as AslDefinition, taskHandlers };
    }
  }
  return machines;
}

/** Resolves the CloudFormation intrinsics CDK emits in a state machine definition to plain strings. */
class TemplateResolver {
  readonly #resources: Readonly<Record<string, CfnResourceJson>>;
  readonly #stackName: string;
  readonly #where: string;

  constructor(template: CfnTemplate, stackName: string, where: string) {
    this.#resources = template.Resources ?? {};
    this.#stackName = stackName;
    this.#where = where;
  }

  resolve(value: unknown): string {
    if (typeof value === 'string') return value;
    if (typeof value === 'number' || typeof value === 'boolean') return String(value);
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      throw this.#error(`cannot resolve ${JSON.stringify(value)}`);
    }
    const entries = Object.entries(value);
    const [intrinsic, argument] = entries[0] ?? [];
    if (entries.length !== 1 || intrinsic === undefined) {
      throw this.#error(`expected one intrinsic function, got ${JSON.stringify(value)}`);
    }
    switch (intrinsic) {
      case 'Ref':
        return this.#reference(String(argument), undefined);
      case 'Fn::GetAtt': {
        const [logicalId, attribute] = Array.isArray(argument)
          ? argument.map(String)
          : String(argument).split(/\.(.*)/s);
        if (logicalId === undefined || attribute === undefined) {
          throw this.#error(`malformed Fn::GetAtt ${JSON.stringify(argument)}`);
        }
        return this.#reference(logicalId, attribute);
      }
      case 'Fn::Join': {
        if (!Array.isArray(argument) || typeof argument[0] !== 'string' || !Array.isArray(argument[1])) {
          throw this.#error(`malformed Fn::Join ${JSON.stringify(argument)}`);
        }
        const separator: string = argument[0];
        return argument[1].map((part: unknown) => this.resolve(part)).join(separator);
      }
      case 'Fn::Sub': {
        const [text, variables] = Array.isArray(argument) ? argument : [argument, undefined];
        if (typeof text !== 'string') throw this.#error(`malformed Fn::Sub ${JSON.stringify(argument)}`);
        return this.#sub(text, (variables ?? {}) as Record<string, unknown>);
      }
      case 'Fn::ImportValue':
        return placeholderArn('import', this.resolve(argument));
      default:
        throw this.#error(`unsupported intrinsic ${intrinsic}`);
    }
  }

  /** Applies the state machine's DefinitionSubstitutions (`${name}` placeholders). */
  substitute(text: string, substitutions: unknown): string {
    if (substitutions === undefined) return text;
    if (substitutions === null || typeof substitutions !== 'object') {
      throw this.#error('DefinitionSubstitutions is not an object');
    }
    let result = text;
    for (const [key, value] of Object.entries(substitutions)) {
      result = result.replaceAll(`\${${key}}`, this.resolve(value));
    }
    return result;
  }

  #sub(text: string, variables: Record<string, unknown>): string {
    return text.replace(/\$\{([^}]+)\}/g, (_match, expression: string) => {
      if (expression.startsWith('!')) return `\${${expression.slice(1)}}`;
      if (expression in variables) return this.resolve(variables[expression]);
      const [logicalId = expression, attribute] = expression.split(/\.(.*)/s);
      return this.#reference(logicalId, attribute === '' ? undefined : attribute);
    });
  }

  /** `Ref` (attribute undefined) or `Fn::GetAtt` of a pseudo parameter or a resource of the template. */
  #reference(logicalId: string, attribute: string | undefined): string {
    if (attribute === undefined) {
      if (logicalId === 'AWS::StackName') return this.#stackName;
      const pseudo = PSEUDO_PARAMETERS[logicalId];
      if (pseudo !== undefined) return pseudo;
    }
    const resource = this.#resources[logicalId];
    if (resource === undefined) throw this.#error(`references ${logicalId}, which is not in the template`);
    if (resource.Type === 'AWS::Lambda::Function' && (attribute === undefined || attribute === 'Arn')) {
      const handler = resource.Metadata?.[METADATA_KEYS.handler];
      if (typeof handler !== 'string' || handler === '') {
        throw this.#error(`invokes function ${logicalId}, which has no ${METADATA_KEYS.handler} metadata`);
      }
      return localFunctionArn(handler);
    }
    return placeholderArn(logicalId, attribute ?? 'Ref');
  }

  #error(message: string): DefinitionExtractionError {
    return new DefinitionExtractionError(`${this.#where}: ${message}`);
  }
}

/** The handler named by a local function ARN (a version or alias qualifier is ignored), if it is one. */
function handlerOf(arn: unknown): string | undefined {
  if (typeof arn !== 'string' || !arn.startsWith(LOCAL_FUNCTION_ARN_PREFIX)) return undefined;
  return arn.slice(LOCAL_FUNCTION_ARN_PREFIX.length).split(':')[0];
}

interface StatesView {
  readonly States?: Readonly<Record<string, StateView>>;
}

interface StateView {
  readonly Type?: string;
  readonly Resource?: unknown;
  readonly Parameters?: { readonly FunctionName?: unknown };
  readonly ItemProcessor?: StatesView;
  readonly Iterator?: StatesView;
  readonly Branches?: readonly StatesView[];
}

function collectTaskHandlers(scope: StatesView, into: Record<string, string>, where: string): void {
  for (const [stateName, state] of Object.entries(scope.States ?? {})) {
    if (state.Type === 'Task') {
      const handler = handlerOf(state.Resource) ?? handlerOf(state.Parameters?.FunctionName);
      if (handler !== undefined) {
        if (stateName in into) {
          throw new DefinitionExtractionError(`${where}: two Task states are named ${stateName}`);
        }
        into[stateName] = handler;
      }
    }
    for (const nested of [state.ItemProcessor, state.Iterator, ...(state.Branches ?? [])]) {
      if (nested !== undefined) collectTaskHandlers(nested, into, where);
    }
  }
}
