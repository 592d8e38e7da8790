#!/usr/bin/env bash
# Deploys Matchbridge to the LocalStack of localstack/docker-compose.yml with cdklocal (aws-cdk-local): the
# LocalStack target of the CDK app (-c target=localstack): no VPC, RDS or MSK; the functions use the compose
# PostgreSQL and Kafka. Extra arguments go to `cdklocal deploy` (e.g. -c localstack.databaseUrl=…).
set -euo pipefail
cd "$(dirname "$0")/.."
export AWS_ACCESS_KEY_ID="${AWS_ACCESS_KEY_ID:-test}"
export AWS_SECRET_ACCESS_KEY="${AWS_SECRET_ACCESS_KEY:-test}"
export AWS_DEFAULT_REGION="${AWS_DEFAULT_REGION:-us-east-1}"
export AWS_ENDPOINT_URL="${AWS_ENDPOINT_URL:-http://localhost.localstack.cloud:4566}"
# cdk.json runs `node infra/app.ts`: the project's Node 24.
export PATH="$PWD/node_modules/.bin:$PATH"

if ! curl -fsS "$AWS_ENDPOINT_URL/_localstack/health" >/dev/null; then
  echo "LocalStack is not answering at $AWS_ENDPOINT_URL: docker compose -f localstack/docker-compose.yml up -d" >&2
  exit 2
fi
cdklocal bootstrap -c target=localstack "aws://000000000000/$AWS_DEFAULT_REGION"
cdklocal deploy --all --require-approval never -c target=localstack "$@"
