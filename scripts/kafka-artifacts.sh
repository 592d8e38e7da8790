#!/usr/bin/env bash
# Makes the test Kafka broker runnable before the tests start: Java 17+ and Maven (from Debian's packages when
# missing), then the broker's jars resolved into .cache/kafka/ (a no-op once cached; see test/support/kafka/).
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v java >/dev/null 2>&1 || ! command -v mvn >/dev/null 2>&1; then
  apt-get update -q && apt-get install -y -q openjdk-17-jre-headless maven
fi
exec ./node_modules/.bin/node test/support/kafka/artifacts.ts
