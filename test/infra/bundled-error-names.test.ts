import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { pathToFileURL } from 'node:url';
import { bundleWithHouseSettings } from './support/bundle.ts';

type ErrorClass = new (...args: never[]) => Error;

/**
 * Each class with the arguments it is built with and the name Step Functions sees. The names are written
 * out, not read from the classes or the constructs: they are what `Retry`/`Catch` rules and `fail-job` match.
 */
const EXPECTED: readonly {
  readonly exported: string;
  readonly args: readonly unknown[];
  readonly name: string;
}[] = [
  { exported: 'DatabaseUnavailableError', args: ['down'], name: 'DatabaseUnavailableError' },
  { exported: 'StorageUnavailableError', args: ['down'], name: 'StorageUnavailableError' },
  { exported: 'DeadlineExceededError', args: ['late'], name: 'DeadlineExceededError' },
  { exported: 'StatusDeliveryError', args: ['lost'], name: 'StatusDeliveryError' },
  { exported: 'MessagingUnavailableError', args: ['down'], name: 'MessagingUnavailableError' },
  { exported: 'InvalidRequestError', args: ['CODE', 'bad'], name: 'InvalidRequestError' },
  { exported: 'InvalidFileError', args: ['CODE', 'bad'], name: 'InvalidFileError' },
  { exported: 'SourceChangedError', args: ['changed'], name: 'SourceChangedError' },
  { exported: 'FailureBudgetExceededError', args: ['over'], name: 'FailureBudgetExceededError' },
  { exported: 'JobNotFoundError', args: ['gone'], name: 'JobNotFoundError' },
  { exported: 'ConfigurationError', args: ['unset'], name: 'ConfigurationError' },
  { exported: 'ApiRequestError', args: [400, 'CODE', 'bad'], name: 'ApiRequestError' },
  { exported: 'EventRejectedError', args: ['rejected'], name: 'EventRejectedError' },
];

describe('error names in a function bundle', { timeout: 120_000 }, () => {
  let bundled: Record<string, unknown> = {};
  let cleanup: () => Promise<void> = async () => {};

  before(async () => {
    const built = await bundleWithHouseSettings(
      new URL('./support/error-classes.ts', import.meta.url).pathname,
    );
    cleanup = built.cleanup;
    bundled = (await import(pathToFileURL(built.outfile).href)) as Record<string, unknown>;
  });
  after(() => cleanup());

  for (const { exported, args, name } of EXPECTED) {
    it(`${exported} is still named ${name} once minified`, () => {
      const ErrorClass = bundled[exported] as ErrorClass | undefined;
      assert.equal(typeof ErrorClass, 'function', `${exported} is exported by the bundle`);
      const error = new (ErrorClass as new (...a: unknown[]) => Error)(...args);

      assert.equal(error.name, name);
    });
  }
});
