locals {
  bucket_arn = "arn:${var.partition}:s3:::${var.bucket_name}"

  # The key policy. The first statement is the one wildcard action in the stack: AWS's
  # default key policy gives the account root `kms:*` so that IAM policies can grant use of
  # the key; without it the key becomes unmanageable (AWS KMS developer guide, "Default key
  # policy"). Every other statement names its actions.
  kms_key_policy = {
    Version = "2012-10-17"
    Statement = [
      {
        Sid       = "EnableIamPolicies"
        Effect    = "Allow"
        Principal = { AWS = "arn:${var.partition}:iam::${var.account_id}:root" }
        Action    = "kms:*"
        Resource  = "*"
      },
      {
        # Encrypted log groups: CloudWatch Logs encrypts with the key on the groups' behalf,
        # only for log groups of this account and region.
        Sid       = "CloudWatchLogsUseKey"
        Effect    = "Allow"
        Principal = { Service = "logs.${var.region}.amazonaws.com" }
        Action = [
          "kms:Encrypt",
          "kms:Decrypt",
          "kms:ReEncryptFrom",
          "kms:ReEncryptTo",
          "kms:GenerateDataKey",
          "kms:GenerateDataKeyWithoutPlaintext",
          "kms:DescribeKey",
        ]
        Resource = "*"
        Condition = {
          ArnLike = {
            "kms:EncryptionContext:aws:logs:arn" = "arn:${var.partition}:logs:${var.region}:${var.account_id}:log-group:*"
          }
        }
      },
      {
        # CloudWatch alarms publish to the KMS-encrypted SNS topic.
        Sid       = "CloudWatchAlarmsPublishToEncryptedTopic"
        Effect    = "Allow"
        Principal = { Service = "cloudwatch.amazonaws.com" }
        Action    = ["kms:Decrypt", "kms:GenerateDataKey"]
        Resource  = "*"
        Condition = {
          StringEquals = { "aws:SourceAccount" = var.account_id }
        }
      },
    ]
  }

  # TLS-only access. A Deny statement: it takes permissions away, it grants none.
  bucket_policy = {
    Version = "2012-10-17"
    Statement = [
      {
        Sid       = "DenyInsecureTransport"
        Effect    = "Deny"
        Principal = "*"
        Action    = "s3:*"
        Resource  = [local.bucket_arn, "${local.bucket_arn}/*"]
        Condition = {
          Bool = { "aws:SecureTransport" = "false" }
        }
      },
    ]
  }
}

resource "aws_kms_key" "this" {
  description             = "${var.name}: S3 objects, log groups and the alarm topic"
  enable_key_rotation     = true
  deletion_window_in_days = var.kms_deletion_window_in_days
  policy                  = jsonencode(local.kms_key_policy)
  tags                    = var.tags
}

resource "aws_kms_alias" "this" {
  name          = "alias/${var.name}"
  target_key_id = aws_kms_key.this.key_id
}

resource "aws_s3_bucket" "this" {
  #checkov:skip=CKV_AWS_18:Server access logs would need a second bucket that itself goes unlogged; only this stack's roles read the bucket, and CloudTrail S3 data events are the audit trail where one is required.
  #checkov:skip=CKV_AWS_144:Cross-region replication doubles storage cost for data that `scones stage` rebuilds from CIFAR-100 and a model that training rebuilds.
  #checkov:skip=CKV2_AWS_62:No consumer subscribes to bucket events; executions are started explicitly with the object key.
  bucket        = var.bucket_name
  force_destroy = var.force_destroy
  tags          = var.tags

  # Nothing in the bucket's own arguments names the key (its encryption is a separate
  # resource), so without this a destroy that stops at a non-empty bucket would still
  # schedule the key's deletion, and everything in the bucket would become unreadable.
  # With it, the key is deleted only after the bucket is gone.
  depends_on = [aws_kms_key.this]
}

resource "aws_s3_bucket_ownership_controls" "this" {
  bucket = aws_s3_bucket.this.id

  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_public_access_block" "this" {
  bucket                  = aws_s3_bucket.this.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_versioning" "this" {
  bucket = aws_s3_bucket.this.id

  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "this" {
  bucket = aws_s3_bucket.this.id

  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = "aws:kms"
      kms_master_key_id = aws_kms_key.this.arn
    }
    # One data key per bucket instead of a KMS call per object: far fewer KMS requests.
    bucket_key_enabled = true
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "this" {
  bucket = aws_s3_bucket.this.id

  rule {
    id     = "abort-incomplete-multipart-uploads"
    status = "Enabled"

    filter {}

    abort_incomplete_multipart_upload {
      days_after_initiation = var.abort_incomplete_multipart_upload_days
    }
  }

  rule {
    id     = "expire-noncurrent-versions"
    status = "Enabled"

    filter {}

    noncurrent_version_expiration {
      noncurrent_days = var.noncurrent_version_expiration_days
    }
  }

  rule {
    id     = "expire-data-capture"
    status = "Enabled"

    filter {
      prefix = var.data_capture_prefix
    }

    expiration {
      days = var.data_capture_expiration_days
    }
  }

  # A report per scheduled run (96 a day at the default 15 minutes) is worth keeping as long
  # as the capture it judged, no longer. The baselines (drift/baselines/) never expire.
  rule {
    id     = "expire-drift-reports"
    status = "Enabled"

    filter {
      prefix = var.drift_reports_prefix
    }

    expiration {
      days = var.data_capture_expiration_days
    }
  }

  # Versioning must be on before noncurrent-version rules are meaningful.
  depends_on = [aws_s3_bucket_versioning.this]
}

resource "aws_s3_bucket_policy" "this" {
  bucket = aws_s3_bucket.this.id
  policy = jsonencode(local.bucket_policy)

  # S3 rejects a bucket policy while the public access block is still being written.
  depends_on = [aws_s3_bucket_public_access_block.this]
}
