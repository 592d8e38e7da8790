/**
 * The errors Lambda's own invoke can fail with, which Step Functions recommends retrying; written out here, not
 * taken from the constructs, so that a test of a Retry cannot pass by echoing the code it tests.
 */
export const LAMBDA_SERVICE_ERROR_NAMES = [
  'Lambda.ServiceException',
  'Lambda.AWSLambdaException',
  'Lambda.SdkClientException',
] as const;

/** The Retry every Task of the import state machines carries: our transient errors, then Lambda's. */
export const EXPECTED_IMPORT_TASK_RETRY = [
  {
    ErrorEquals: [
      'DatabaseUnavailableError',
      'StorageUnavailableError',
      'DeadlineExceededError',
      'StatusDeliveryError',
      ...LAMBDA_SERVICE_ERROR_NAMES,
    ],
    IntervalSeconds: 1,
    MaxAttempts: 3,
    BackoffRate: 2,
    MaxDelaySeconds: 10,
  },
  // Throttling waits for the reserved concurrency other jobs hold: minutes, not seconds.
  {
    ErrorEquals: ['Lambda.TooManyRequestsException'],
    IntervalSeconds: 2,
    MaxAttempts: 20,
    BackoffRate: 2,
    MaxDelaySeconds: 60,
    JitterStrategy: 'FULL',
  },
];
