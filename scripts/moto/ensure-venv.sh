#!/usr/bin/env bash
# Installs the moto server wrapper's Python packages into the project venv (.venv) when
# missing: what scripts/moto/scones_moto.py, the scones-aws over-the-wire tests and
# scripts/terraform-test.sh need. Pass --checkov to also install checkov.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"

pip_ensure moto 'moto[server]>=5.1,<6' 'boto3>=1.34,<2'
# moto[server]'s Flask: an older venv may have moto without the server extra.
pip_ensure flask 'moto[server]>=5.1,<6'
# The wrapper serves CloudWatch's rpcv2Cbor protocol (what aws-sdk-cloudwatch speaks) by
# translating it to the query protocol moto implements.
pip_ensure cbor2 'cbor2>=5.6,<7'
if [ "${1:-}" = "--checkov" ]; then
    pip_ensure checkov 'checkov>=3.2,<4'
fi
