import type { Server } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { CreateTableCommand, DescribeTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';

// dynalite ships no types: it exports a factory of an http.Server speaking the DynamoDB API.
const require = createRequire(import.meta.url);
const dynalite = require('dynalite') as (options: {
  createTableMs?: number;
  deleteTableMs?: number;
}) => Server;

/** Credentials the emulator accepts (it checks none); the region any. */
export const DYNALITE_CREDENTIALS = { accessKeyId: 'dynalite', secretAccessKey: 'dynalite' } as const;
export const DYNALITE_REGION = 'us-east-1';

/** A DynamoDB-compatible endpoint on 127.0.0.1 with the idempotency table created; in memory. */
export interface TestDynamo {
  readonly endpoint: string;
  readonly tableName: string;
  close(): Promise<void>;
}

/**
 * Starts dynalite and creates `tableName` with the layout the Powertools DynamoDB persistence layer expects:
 * partition key `id` (string). Its TTL attribute is `expiration`; dynalite does not sweep expired items,
 * which the persistence layer does not rely on (it compares `expiration` with the clock itself).
 */
export async function startDynalite(tableName = 'matchbridge-idempotency'): Promise<TestDynamo> {
  const server = dynalite({ createTableMs: 0, deleteTableMs: 0 });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const client = new DynamoDBClient({ endpoint, region: DYNALITE_REGION, credentials: DYNALITE_CREDENTIALS });
  try {
    await client.send(
      new CreateTableCommand({
        TableName: tableName,
        AttributeDefinitions: [{ AttributeName: 'id', AttributeType: 'S' }],
        KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
        BillingMode: 'PAY_PER_REQUEST',
      }),
    );
    for (;;) {
      const { Table } = await client.send(new DescribeTableCommand({ TableName: tableName }));
      if (Table?.TableStatus === 'ACTIVE') break;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  } finally {
    client.destroy();
  }
  return {
    endpoint,
    tableName,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        // Clients under test keep their connections alive; the server would wait for them.
        server.closeAllConnections();
      }),
  };
}
