import { randomUUID } from 'node:crypto';

/**
 * An S3 "Object Created" event exactly as EventBridge delivers it to a Lambda target (the bucket must have
 * EventBridge notifications on). The key is the raw object key: EventBridge does not URL-encode it.
 */
export function objectCreatedEvent(
  key: string,
  options: { bucket?: string; sequencer?: string; etag?: string; size?: number; id?: string } = {},
) {
  const bucket = options.bucket ?? 'matchbridge-dev-data-stagingbucket';
  return {
    version: '0',
    id: options.id ?? randomUUID(),
    'detail-type': 'Object Created',
    source: 'aws.s3',
    account: '111122223333',
    time: '2024-12-12T17:50:14Z',
    region: 'eu-west-1',
    resources: [`arn:aws:s3:::${bucket}`],
    detail: {
      version: '0',
      bucket: { name: bucket },
      object: {
        key,
        size: options.size ?? 184_662,
        etag: options.etag ?? '4e68adba0abe2dc8653dc3354e14c01d',
        sequencer: options.sequencer ?? '006408CAD69598B05E',
      },
      'request-id': '57H08PA84AB1JZW0',
      requester: '111122223333',
      'source-ip-address': '34.252.34.74',
      reason: 'PutObject',
    },
  };
}
