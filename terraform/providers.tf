# The production provider: region only. Credentials come from the standard chain
# (AWS_PROFILE, SSO, environment, instance role). Emulator-only settings (fake keys,
# endpoints, skips) live in tests/emulator/ and are never merged into this file in the repo.
provider "aws" {
  region = var.region
}
