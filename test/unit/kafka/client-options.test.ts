import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { loadConfig } from '../../../lib/config.ts';
import { kafkaConnectionOptions, kafkaSettings } from '../../../lib/kafka/client-options.ts';

const CREDENTIALS = {
  AWS_ACCESS_KEY_ID: 'AKIAIOSFODNN7EXAMPLE',
  AWS_SECRET_ACCESS_KEY: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
};

describe('Kafka connection options', () => {
  it('connects in plaintext without SASL when KAFKA_AUTH is none', () => {
    const settings = kafkaSettings(loadConfig({ KAFKA_BROKERS: '127.0.0.1:9092,127.0.0.1:9093' }));
    assert.ok(settings);

    const options = kafkaConnectionOptions(settings);

    assert.deepEqual(options, {
      clientId: 'matchbridge',
      bootstrapBrokers: ['127.0.0.1:9092', '127.0.0.1:9093'],
    });
  });

  it('has no settings when no brokers are configured, unless the caller names some', () => {
    const cfg = loadConfig({});

    assert.equal(kafkaSettings(cfg), undefined);
    assert.deepEqual(kafkaSettings(cfg, ['127.0.0.1:9092'])?.brokers, ['127.0.0.1:9092']);
  });

  it('rejects a broker that is not host:port and an unknown KAFKA_AUTH at load', () => {
    assert.throws(() => loadConfig({ KAFKA_BROKERS: 'localhost' }), { code: 'INVALID_CONFIGURATION' });
    assert.throws(() => loadConfig({ KAFKA_BROKERS: 'b:9098', KAFKA_AUTH: 'scram' }), {
      code: 'INVALID_CONFIGURATION',
    });
  });

  describe('with MSK IAM (KAFKA_AUTH=iam)', () => {
    const saved: Record<string, string | undefined> = {};
    before(() => {
      // The signer reads the default credential chain; static keys keep it off the network.
      for (const [name, value] of Object.entries(CREDENTIALS)) {
        saved[name] = process.env[name];
        process.env[name] = value;
      }
    });
    after(() => {
      for (const [name, value] of Object.entries(saved)) {
        if (value === undefined) delete process.env[name];
        else process.env[name] = value;
      }
    });

    it('uses TLS and SASL/OAUTHBEARER with a token provider', () => {
      const settings = kafkaSettings(
        loadConfig({ KAFKA_BROKERS: 'b-1.msk.example:9098', KAFKA_AUTH: 'iam', AWS_REGION: 'eu-west-1' }),
      );
      assert.ok(settings);

      const options = kafkaConnectionOptions(settings);

      assert.deepEqual(options.tls, {});
      assert.equal(options.sasl?.mechanism, 'OAUTHBEARER');
      assert.equal(typeof options.sasl?.token, 'function');
    });

    it('provides tokens that are presigned kafka-cluster:Connect requests for the region', async () => {
      const settings = kafkaSettings(
        loadConfig({ KAFKA_BROKERS: 'b-1.msk.example:9098', KAFKA_AUTH: 'iam', AWS_REGION: 'eu-west-1' }),
      );
      assert.ok(settings);
      const provider = kafkaConnectionOptions(settings).sasl?.token;
      assert.equal(typeof provider, 'function');

      const token = await (provider as () => Promise<string>)();

      assert.match(token, /^[A-Za-z0-9_-]+$/);
      const url = new URL(Buffer.from(token, 'base64url').toString('utf8'));
      assert.equal(url.host, 'kafka.eu-west-1.amazonaws.com');
      assert.equal(url.searchParams.get('Action'), 'kafka-cluster:Connect');
      assert.equal(url.searchParams.get('X-Amz-Algorithm'), 'AWS4-HMAC-SHA256');
      assert.match(
        url.searchParams.get('X-Amz-Credential') ?? '',
        /^AKIAIOSFODNN7EXAMPLE\/\d{8}\/eu-west-1\/kafka-cluster\//,
      );
      assert.match(url.searchParams.get('X-Amz-Signature') ?? '', /^[0-9a-f]{64}$/);
    });
  });
});
