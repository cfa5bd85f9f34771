#!/usr/bin/env bash
# What the test tiers and `make run` need besides Python, installed when missing, from
# Debian's packages (needs root): a Java runtime for AWS's DynamoDB Local; Node.js and npm
# for DynamoDB Local's package and the mini-program's build; Chromium and CJK fonts for the
# browser tier (Playwright drives Debian's chromium; no browser download).
# `system-deps.sh run` installs only what `make run` needs (no browser).
set -euo pipefail
missing=()
command -v java >/dev/null 2>&1 || missing+=(openjdk-17-jre-headless)
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)
if [ "${1:-test}" != "run" ]; then
    command -v chromium >/dev/null 2>&1 || missing+=(chromium)
    dpkg -s fonts-noto-cjk >/dev/null 2>&1 || missing+=(fonts-noto-cjk)
fi
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
    echo "Needed and missing: ${missing[*]} (install them, e.g. with apt-get)" >&2
    exit 1
fi
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
