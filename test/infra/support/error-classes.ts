// The entry bundled by bundled-error-names.test.ts: every error class a handler can throw out to a state machine.

export { EventRejectedError } from '../../../lib/aws/eventbridge.ts';
export * from '../../../lib/errors.ts';
