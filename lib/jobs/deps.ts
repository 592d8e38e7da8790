import type pg from 'pg';
import type { Config } from '../config.ts';
import type { ObjectStore } from '../storage/object-store.ts';
import type { StatusDelivery } from './publish-status.ts';

/** What every handler works with: configuration, one database pool and one object store per process. */
export interface RuntimeDeps {
  readonly config: Config;
  readonly pool: pg.Pool;
  readonly store: ObjectStore;
  /** Where finished jobs' status messages go (Kafka, EventBridge) and where undeliverable ones are kept. */
  readonly status: StatusDelivery;
}
