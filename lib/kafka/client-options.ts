import type { BaseOptions, SASLOptions } from '@platformatic/kafka';
import type { Config } from '../config.ts';
import { ConfigurationError } from '../errors.ts';

/** How to reach a Kafka cluster: the brokers, the authentication, and the client id announced. */
export interface KafkaSettings {
  /** Bootstrap brokers, `host:port` each. */
  readonly brokers: readonly string[];
  /** `none`: plaintext (a local broker); `iam`: TLS and SASL/OAUTHBEARER with MSK IAM tokens. */
  readonly auth: 'none' | 'iam';
  readonly clientId: string;
  /** Region the MSK IAM tokens are signed for. */
  readonly region: string;
  /**
   * Produces an MSK IAM token for each (re)authentication; by default one signed with the default AWS
   * credential chain (the Lambda's role) by `aws-msk-iam-sasl-signer-js`.
   */
  readonly tokenProvider?: () => Promise<string>;
}

/**
 * The Kafka settings of the configuration (`KAFKA_BROKERS`, `KAFKA_AUTH`, `KAFKA_CLIENT_ID`, `AWS_REGION`),
 * or undefined when no brokers are configured. `brokers` overrides `KAFKA_BROKERS` (the bridge's `--brokers`).
 */
export function kafkaSettings(cfg: Config, brokers?: readonly string[]): KafkaSettings | undefined {
  const list = brokers ?? cfg.kafkaBrokers;
  if (!list || list.length === 0) return undefined;
  return { brokers: list, auth: cfg.kafkaAuth, clientId: cfg.kafkaClientId, region: cfg.awsRegion };
}

/**
 * A provider of MSK IAM tokens: a SigV4-presigned `kafka-cluster:Connect` request, base64url-encoded, as the
 * brokers' IAM listener (port 9098) expects in the SASL/OAUTHBEARER exchange. The signer is loaded on first
 * use, so that clients without IAM never load it.
 */
export function mskIamTokenProvider(region: string): () => Promise<string> {
  return async () => {
    const { generateAuthToken } = await import('aws-msk-iam-sasl-signer-js');
    const { token } = await generateAuthToken({ region });
    return token;
  };
}

/** The connection part of a @platformatic/kafka client's options. */
export type KafkaConnectionOptions = Pick<BaseOptions, 'clientId' | 'bootstrapBrokers' | 'tls' | 'sasl'>;

/**
 * The connection options of every Kafka client from the settings. With `iam`, the connection is TLS (MSK's
 * IAM listener only speaks TLS) and authenticates with SASL/OAUTHBEARER; the token provider is called again
 * at each re-authentication, before the broker's session lifetime ends (the client schedules it).
 *
 * @throws ConfigurationError when no brokers are given.
 */
export function kafkaConnectionOptions(settings: KafkaSettings): KafkaConnectionOptions {
  if (settings.brokers.length === 0) throw new ConfigurationError('no Kafka brokers configured');
  const base = { clientId: settings.clientId, bootstrapBrokers: [...settings.brokers] };
  if (settings.auth === 'none') return base;
  const sasl: SASLOptions = {
    mechanism: 'OAUTHBEARER',
    token: settings.tokenProvider ?? mskIamTokenProvider(settings.region),
  };
  return { ...base, tls: {}, sasl };
}
