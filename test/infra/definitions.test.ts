import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  type CfnTemplate,
  DefinitionExtractionError,
  extractStateMachines,
  localFunctionArn,
} from '../../infra/definitions.ts';

const fn = (handler?: string) => ({
  Type: 'AWS::Lambda::Function',
  Properties: {},
  ...(handler ? { Metadata: { 'matchbridge:handler': handler } } : {}),
});

const machine = (definitionString: unknown, name = 'demo') => ({
  Type: 'AWS::StepFunctions::StateMachine',
  Properties: { DefinitionString: definitionString },
  Metadata: { 'matchbridge:state-machine': name },
});

interface StateView {
  Resource?: string;
  Parameters?: Record<string, unknown>;
  ItemProcessor?: DefinitionView;
}

interface DefinitionView {
  States: Record<string, StateView>;
}

/** A definition split as CDK renders it: JSON text joined around function references. */
const joined = (...parts: unknown[]) => ({ 'Fn::Join': ['', parts] });

function extractionError(act: () => unknown): DefinitionExtractionError {
  try {
    act();
  } catch (error) {
    assert.ok(error instanceof DefinitionExtractionError, String(error));
    return error;
  }
  assert.fail('expected a DefinitionExtractionError');
}

describe('extractStateMachines', () => {
  it('replaces function references with local ARNs and binds Task states at any depth to handlers', () => {
    const templates: Record<string, CfnTemplate> = {
      stack: {
        Resources: {
          StepOne: fn('one'),
          StepTwo: fn('two'),
          Bucket: { Type: 'AWS::S3::Bucket' },
          Machine: machine(
            joined(
              '{"StartAt":"A","States":{"A":{"Type":"Task","Resource":"',
              { 'Fn::GetAtt': ['StepOne', 'Arn'] },
              '","Next":"M"},"M":{"Type":"Map","End":true,"ItemProcessor":{"StartAt":"B","States":{"B":{"Type":"Task","Resource":"arn:',
              { Ref: 'AWS::Partition' },
              ':states:::lambda:invoke","Parameters":{"FunctionName":"',
              // biome-ignore lint/suspicious/noTemplateCurlyInString: Fn::Sub's own placeholder syntax
              { 'Fn::Sub': '${StepTwo.Arn}' },
              '","Bucket":"',
              { Ref: 'Bucket' },
              '"},"End":true}}}}}}',
            ),
          ),
        },
      },
    };

    const machines = extractStateMachines(templates);

    const demo = machines.demo;
    assert.ok(demo);
    assert.deepEqual(demo.taskHandlers, { A: 'one', B: 'two' });
    const { States: states } = demo.definition as unknown as DefinitionView;
    assert.equal(states.A?.Resource, localFunctionArn('one'));
    const nested = states.M?.ItemProcessor?.States.B;
    assert.equal(nested?.Resource, 'arn:aws:states:::lambda:invoke');
    assert.equal(nested?.Parameters?.FunctionName, localFunctionArn('two'));
    assert.match(String(nested?.Parameters?.Bucket), /^arn:aws:local:.*Bucket/);
  });

  it('ignores state machines without the metadata', () => {
    const templates = {
      stack: { Resources: { Other: { ...machine('{}'), Metadata: {} } } },
    };

    assert.deepEqual(extractStateMachines(templates), {});
  });

  it('fails clearly when a referenced function has no handler metadata', () => {
    const templates = {
      stack: {
        Resources: {
          Anonymous: fn(),
          Machine: machine(
            joined(
              '{"StartAt":"A","States":{"A":{"Type":"Task","Resource":"',
              { 'Fn::GetAtt': ['Anonymous', 'Arn'] },
              '","End":true}}}',
            ),
          ),
        },
      },
    };

    const error = extractionError(() => extractStateMachines(templates));
    assert.equal(error.code, 'DEFINITION_EXTRACTION_FAILED');
    assert.ok(error.message.includes('Anonymous'));
  });

  it('fails clearly when a reference points outside the template', () => {
    const templates = {
      stack: { Resources: { Machine: machine(joined('{"x":"', { Ref: 'Missing' }, '"}')) } },
    };

    assert.ok(extractionError(() => extractStateMachines(templates)).message.includes('Missing'));
  });

  it('fails clearly when the state machine has no DefinitionString', () => {
    const templates = {
      stack: { Resources: { Machine: { ...machine(undefined), Properties: { DefinitionS3Location: {} } } } },
    };

    assert.ok(extractionError(() => extractStateMachines(templates)).message.includes('DefinitionString'));
  });

  it('fails when two state machines share a name', () => {
    const definition = '{"StartAt":"P","States":{"P":{"Type":"Pass","End":true}}}';
    const templates = {
      one: { Resources: { Machine: machine(definition) } },
      two: { Resources: { Machine: machine(definition) } },
    };

    extractionError(() => extractStateMachines(templates));
  });
});
