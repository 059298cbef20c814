#!/usr/bin/env bash
# Installs the system packages the project needs when they are missing (Debian/Ubuntu):
# a JDK 17 and Maven to build and run Solr, python3-venv for the virtual environment, Chromium
# and its WebDriver for the web page's end-to-end test (tests/test_web.py), docker-compose to
# validate docker-compose.yml offline (tests/test_deployment.py; no Docker engine needed).
set -euo pipefail
missing=()
command -v javac >/dev/null || missing+=(openjdk-17-jdk-headless)
command -v mvn >/dev/null || missing+=(maven)
python3 -c "import venv, ensurepip" 2>/dev/null || missing+=(python3-venv)
command -v chromium >/dev/null || missing+=(chromium)
command -v chromedriver >/dev/null || missing+=(chromium-driver)
command -v docker-compose >/dev/null || missing+=(docker-compose)
if ((${#missing[@]})); then
  echo "installing ${missing[*]}"
  SUDO=$([ "$(id -u)" = 0 ] && echo "" || echo sudo)
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q "${missing[@]}"
fi
