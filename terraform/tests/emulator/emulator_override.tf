# Emulator-only provider settings, merged (Terraform override-file rules) into the root
# module's provider block in a throw-away copy made by scripts/terraform-test.sh. Never
# copied into terraform/ itself.
#
# The endpoint comes from AWS_ENDPOINT_URL (http://127.0.0.1:<port>, the moto server the
# script starts) and the fake credentials from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, so
# this file holds no address and no key.
provider "aws" {
  skip_credentials_validation = true
  skip_requesting_account_id  = true
  skip_metadata_api_check     = true
  skip_region_validation      = true
  s3_use_path_style           = true
  # moto answers unimplemented APIs with HTTP 500; the default retries would stall apply.
  max_retries = 2
}
