output "bucket_name" {
  description = "Name of the bucket."
  value       = aws_s3_bucket.this.bucket
}

output "bucket_arn" {
  description = "ARN of the bucket."
  value       = aws_s3_bucket.this.arn
}

output "kms_key_arn" {
  description = "ARN of the customer managed key that encrypts the bucket, the log groups and the alarm topic."
  value       = aws_kms_key.this.arn
}

output "kms_key_id" {
  description = "ID of the customer managed key."
  value       = aws_kms_key.this.key_id
}

output "kms_alias_name" {
  description = "Alias of the key (alias/<name>)."
  value       = aws_kms_alias.this.name
}

output "data_capture_s3_uri" {
  description = "s3:// URI under which the endpoint writes data capture."
  value       = "s3://${aws_s3_bucket.this.bucket}/${trimsuffix(var.data_capture_prefix, "/")}"
}

output "data_capture_prefix" {
  description = "Key prefix of the data capture (trailing slash)."
  value       = var.data_capture_prefix
}

output "drift_reports_prefix" {
  description = "Key prefix of the drift reports (trailing slash)."
  value       = var.drift_reports_prefix
}

output "policy_documents" {
  description = "The key policy and bucket policy as objects, for audits and tests."
  value = {
    kms_key = local.kms_key_policy
    bucket  = local.bucket_policy
  }
}
