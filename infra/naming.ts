import { Stack } from 'aws-cdk-lib';
import type { IConstruct } from 'constructs';

/** A stack whose operator-facing resources are named `<namePrefix>-<name>` (e.g. `matchbridge-prod-import`). */
export interface NamingStack {
  /** `matchbridge-<envName>`: one per environment, so two environments in one account never collide. */
  readonly namePrefix: string;
}

/**
 * The explicit name of a resource operators look for by name (state machines, functions, their log groups), so
 * that the runbook's commands and Logs Insights queries work as written.
 *
 * @throws Error when the construct is not in a stack that gives a name prefix.
 */
export function physicalName(scope: IConstruct, name: string): string {
  const stack: Stack & Partial<NamingStack> = Stack.of(scope);
  if (!stack.namePrefix) throw new Error(`stack ${stack.stackName} names no resources (no namePrefix)`);
  return `${stack.namePrefix}-${name}`;
}
