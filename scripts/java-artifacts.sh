#!/usr/bin/env bash
# Makes the Java programs the tests run (the Kafka broker, ElasticMQ, OpenAPI Generator and the libraries of the Java
# client it generates) runnable before the tests start: a JDK 17+ (javac compiles the broker's MSK IAM token
# validator and the generated client) and Maven (from Debian packages when missing), then their jars resolved into
# .cache/ (a no-op once cached).
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v javac >/dev/null 2>&1 || ! command -v mvn >/dev/null 2>&1; then
  apt-get update -q && apt-get install -y -q openjdk-17-jdk-headless maven
fi
exec ./node_modules/.bin/node test/support/maven/fetch.ts
