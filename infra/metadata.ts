/**
 * CloudFormation metadata keys by which the local runner finds what `cdk synth` produced: each function's
 * handler name and each state machine's name. Shared by the constructs that write them and by
 * `definitions.ts`, which reads them.
 */
export const METADATA_KEYS = {
  /** On every `AWS::Lambda::Function` of ours: the folder name under `functions/`. */
  handler: 'matchbridge:handler',
  /** On every `AWS::StepFunctions::StateMachine` of ours: its short name (`import`). */
  stateMachine: 'matchbridge:state-machine',
} as const;
