#!/usr/bin/env bash
# Creates Matchbridge's topics on the compose broker (auto-creation would make them too, with one partition
# and only once a client asks; creating them up front lets consumers subscribe before the first message).
set -euo pipefail
BOOTSTRAP=kafka:19092
TOPICS=(matchbridge-users matchbridge-matches nodes-import-status matches-import-status)

for attempt in $(seq 1 30); do
  if /opt/kafka/bin/kafka-topics.sh --bootstrap-server "$BOOTSTRAP" --list >/dev/null 2>&1; then break; fi
  echo "waiting for kafka ($attempt)"
  sleep 2
done
for topic in "${TOPICS[@]}"; do
  /opt/kafka/bin/kafka-topics.sh --bootstrap-server "$BOOTSTRAP" --create --if-not-exists \
    --topic "$topic" --partitions 3 --replication-factor 1
done
/opt/kafka/bin/kafka-topics.sh --bootstrap-server "$BOOTSTRAP" --list
