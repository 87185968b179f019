terraform {
  # 1.9+: variable validations may refer to other variables; `terraform test` mocks need 1.7+.
  required_version = ">= 1.9"

  required_providers {
    aws = {
      source = "hashicorp/aws"
      # 5.x: aws_sagemaker_prebuilt_ecr_image, Lambda logging_config and S3 lifecycle
      # filter semantics used here; 6.x changes region handling and is untested.
      version = ">= 5.70, < 6.0"
    }
  }
}
