#!/usr/bin/env bash
# Runs inside LocalStack once it is ready. The stacks themselves are deployed from the host by
# `npm run localstack:deploy` (cdklocal); this only prepares what a deploy needs and says where to look.
set -euo pipefail
echo "matchbridge: LocalStack ready; deploy with 'npm run localstack:deploy' from the repository root"
awslocal sts get-caller-identity >/dev/null
