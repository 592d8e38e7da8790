import { once } from 'node:events';
import { Consumer, type Message, type MessagesStream } from '@platformatic/kafka';
import { mskEvent, mskRecord } from '../../support/msk-events.ts';

type BytesMessage = Message<Buffer, Buffer, Buffer, Buffer>;

/** An `AWS::Lambda::EventSourceMapping` of the template, resolved. */
export interface MappingSpec {
  readonly logicalId: string;
  readonly functionName: string;
  readonly topics: readonly string[];
  readonly startingPosition: string;
  readonly batchSize: number;
}

/**
 * The MSK event-source mapping's part, which cannot run here: reads the mapping's topics off the broker in a
 * consumer group of its own, from its starting position, hands up to `BatchSize` records to its function as
 * the MSK event Lambda builds (records grouped by topic-partition, base64 key and value, byte headers), and
 * commits them only once the function returned.
 */
export class MskMappingStandIn {
  readonly spec: MappingSpec;
  readonly #consumer: Consumer<Buffer, Buffer, Buffer, Buffer>;
  readonly #buffer: BytesMessage[] = [];
  #stream: MessagesStream<Buffer, Buffer, Buffer, Buffer> | undefined;

  constructor(spec: MappingSpec, bootstrap: string) {
    this.spec = spec;
    this.#consumer = new Consumer({
      clientId: `assembly-mapping-${spec.logicalId}`,
      groupId: `assembly-mapping-${spec.logicalId}`,
      bootstrapBrokers: [bootstrap],
      autocommit: false,
      maxWaitTime: 250,
    });
  }

  async start(): Promise<void> {
    const stream = await this.#consumer.consume({
      topics: [...this.spec.topics],
      mode: 'committed',
      fallbackMode: this.spec.startingPosition === 'LATEST' ? 'latest' : 'earliest',
    });
    stream.on('data', (message: BytesMessage) => this.#buffer.push(message));
    this.#stream = stream;
    // The mapping exists from the deploy on: with LATEST, records produced after that must reach it, so the
    // stand-in is ready only once its partitions are assigned (and their positions taken).
    const deadline = Date.now() + 30_000;
    while (!this.#consumer.assignments?.some((a) => a.partitions.length > 0)) {
      if (Date.now() > deadline) throw new Error(`${this.spec.logicalId}: no partition assigned in 30 s`);
      await sleep(100);
    }
  }

  /**
   * Waits until `records` records are read (at most 30 s), invokes the function with them as one MSK event
   * (batches of `BatchSize`), and commits; returns each invocation's payload.
   */
  async deliver(
    records: number,
    invoke: (functionName: string, event: unknown) => Promise<unknown>,
  ): Promise<unknown[]> {
    const deadline = Date.now() + 30_000;
    while (this.#buffer.length < records) {
      if (Date.now() > deadline) {
        throw new Error(
          `${this.spec.logicalId}: ${this.#buffer.length} of ${records} records arrived in 30 s`,
        );
      }
      await Promise.race([once(this.#stream ?? this.#consumer, 'data'), sleep(250)]);
    }
    const outcomes: unknown[] = [];
    while (this.#buffer.length > 0) {
      const batch = this.#buffer.splice(0, this.spec.batchSize);
      const event = mskEvent(
        batch.map((message) =>
          mskRecord(message.value, {
            topic: message.topic,
            partition: message.partition,
            offset: Number(message.offset),
            ...(message.key && message.key.length > 0 ? { key: message.key.toString() } : {}),
            headers: Object.fromEntries(
              [...message.headers].map(([name, value]) => [name.toString(), value.toString()]),
            ),
          }),
        ),
      );
      outcomes.push(await invoke(this.spec.functionName, event));
      await Promise.all(batch.map((message) => message.commit()));
    }
    return outcomes;
  }

  async close(): Promise<void> {
    if (this.#stream && !this.#stream.destroyed) await this.#stream.close();
    await this.#consumer.close(true);
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
