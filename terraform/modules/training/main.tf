# The built-in image-classification algorithm's image for this region (computed by the
# provider from its own table: no API call).
data "aws_sagemaker_prebuilt_ecr_image" "image_classification" {
  repository_name = "image-classification"
  image_tag       = "1"
}

locals {
  staged_dir        = var.staged_data_dir == null ? "" : trimsuffix(var.staged_data_dir, "/")
  train_lst_path    = "${local.staged_dir}/train.lst"
  test_lst_path     = "${local.staged_dir}/test.lst"
  staged_data_ready = var.staged_data_dir != null && fileexists(local.train_lst_path) && fileexists(local.test_lst_path)

  # try(): HCL type-checks both branches of a conditional, and a missing file must not fail
  # configurations that do not train. The precondition below gives the real error.
  train_lst_sha256 = try(filesha256(local.train_lst_path), "")
  test_lst_sha256  = try(filesha256(local.test_lst_path), "")
  train_lst_lines  = try(length(compact([for line in split("\n", file(local.train_lst_path)) : trimspace(line)])), 0)

  # One documented configuration of the built-in algorithm (SageMaker developer guide,
  # "Image Classification Hyperparameters"): trained from scratch at the images' own 32x32.
  # - The pretrained models are ImageNet networks of 18-200 layers on 224x224 inputs
  #   ("for transfer learning, the number of layers ... can only be selected from the set
  #   [18, 34, 50, 101, 152, 200]"); fine-tuning one on 32x32 images, as before, mixes a
  #   224-pixel network with 32-pixel inputs, and upsampling every image to 224 would cost
  #   ~50x the compute for each training and inference.
  # - num_layers 20: "for data with small image size (for example, 28x28 - like CIFAR), we
  #   suggest selecting the number of layers from the set [20, 32, 44, 56, 110]"; the
  #   default, 152, is an ImageNet depth. 20 is the smallest, for 1000 training images.
  # - resize 36: "required when using image content types" (our channels are
  #   application/x-image) and "should be larger than both the width and height components
  #   of image_shape to prevent training failure"; the crop augmentations take 32x32 crops
  #   of the 36-pixel image.
  # - sgd at the algorithm's default learning rate 0.1 (momentum 0.9, weight decay 1e-4),
  #   divided by 10 at epochs 30 and 45 of 60: the CIFAR ResNet recipe, shortened.
  # Not measured here (no SageMaker on the build machine); override any of them with
  # `hyperparameters`.
  default_hyperparameters = {
    num_classes          = "2"
    image_shape          = "3,32,32"
    resize               = "36"
    num_layers           = "20"
    use_pretrained_model = "0"
    num_training_samples = tostring(local.train_lst_lines)
    epochs               = "60"
    optimizer            = "sgd"
    learning_rate        = "0.1"
    lr_scheduler_step    = "30,45"
    lr_scheduler_factor  = "0.1"
    mini_batch_size      = "32"
    augmentation_type    = "crop_color_transform"
  }
  merged_hyperparameters = merge(local.default_hyperparameters, var.hyperparameters)
  # The validation channel is test/: without a checkpoint period the algorithm saves the
  # epoch with the best validation accuracy, which would select the model on test/. A period
  # of `epochs` keeps the last epoch's (the docs: "Default value: no default (Saves
  # checkpoint at the epoch that has the best validation accuracy)"); validation accuracy is
  # then only reported.
  hyperparameters = merge(local.merged_hyperparameters, {
    checkpoint_frequency = lookup(var.hyperparameters, "checkpoint_frequency", local.merged_hyperparameters.epochs)
  })

  # Content-addressed: everything that determines the job's output or whether it can run
  # (hyperparameters, data, where the artefact goes and with which key, the algorithm image,
  # the instance, its limits) gives the job name, so re-applies reuse the finished job and
  # its artefact, and any change trains anew. SageMaker job names are unique per account and
  # region forever: after a destroy the new key (or another bucket) is a new name, and a
  # Failed or Stopped job can be retried with another instance type or run-time limit.
  # (`scones train --aws` also checks a reused job's artefact exists.)
  job_fingerprint = sha256(jsonencode({
    hyperparameters     = local.hyperparameters
    train_lst           = local.train_lst_sha256
    test_lst            = local.test_lst_sha256
    bucket              = var.bucket_name
    output              = local.output_s3_uri
    kms_key             = var.kms_key_arn
    image               = local.image_uri
    instance_type       = var.instance_type
    max_runtime_seconds = var.max_runtime_seconds
    volume_size_gb      = var.volume_size_gb
  }))
  job_name = "${var.name}-ic-${substr(local.job_fingerprint, 0, 16)}"

  image_uri      = data.aws_sagemaker_prebuilt_ecr_image.image_classification.registry_path
  ecr_repository = "arn:${var.partition}:ecr:${var.region}:${data.aws_sagemaker_prebuilt_ecr_image.image_classification.registry_id}:repository/image-classification"
  output_s3_uri  = "s3://${var.bucket_name}/${trimsuffix(var.model_prefix, "/")}"
  model_data_url = "${local.output_s3_uri}/${local.job_name}/output/model.tar.gz"

  # What `scones train --aws --job-spec` receives: everything CreateTrainingJob needs.
  job_spec = {
    job_name            = local.job_name
    region              = var.region
    role_arn            = aws_iam_role.this.arn
    image_uri           = local.image_uri
    instance_type       = var.instance_type
    instance_count      = 1
    volume_size_gb      = var.volume_size_gb
    max_runtime_seconds = var.max_runtime_seconds
    hyperparameters     = local.hyperparameters
    output_s3_uri       = local.output_s3_uri
    output_kms_key_arn  = var.kms_key_arn
    channels = [
      { name = "train", s3_uri = "s3://${var.bucket_name}/train/", content_type = "application/x-image" },
      { name = "validation", s3_uri = "s3://${var.bucket_name}/test/", content_type = "application/x-image" },
      { name = "train_lst", s3_uri = "s3://${var.bucket_name}/train.lst", content_type = "application/x-image" },
      { name = "validation_lst", s3_uri = "s3://${var.bucket_name}/test.lst", content_type = "application/x-image" },
    ]
    tags = var.tags
  }

  training_log_group = "arn:${var.partition}:logs:${var.region}:${var.account_id}:log-group:/aws/sagemaker/TrainingJobs"

  role_policy = {
    Version = "2012-10-17"
    Statement = [
      {
        Sid    = "ReadTrainingData"
        Effect = "Allow"
        Action = ["s3:GetObject"]
        Resource = [
          "${var.bucket_arn}/train/*",
          "${var.bucket_arn}/test/*",
          "${var.bucket_arn}/train.lst",
          "${var.bucket_arn}/test.lst",
          # `scones train --aws` with reviewed images: the combined list (the images
          # themselves are copied into train/).
          "${var.bucket_arn}/review/training/*",
        ]
      },
      {
        # File mode lists the channel prefixes before downloading them.
        Sid      = "ListTrainingData"
        Effect   = "Allow"
        Action   = ["s3:ListBucket"]
        Resource = [var.bucket_arn]
        Condition = {
          StringLike = { "s3:prefix" = ["train/*", "test/*", "train.lst", "test.lst", "review/training/*"] }
        }
      },
      {
        Sid      = "WriteModelArtifacts"
        Effect   = "Allow"
        Action   = ["s3:PutObject"]
        Resource = ["${var.bucket_arn}/${var.model_prefix}*"]
      },
      {
        # Encrypt too: the SageMaker API reference (OutputDataConfig.KmsKeyId) says the
        # execution role "must include permissions to call kms:Encrypt" when an output key
        # is given; it names the key-id and alias forms, and we give the ARN, so this takes
        # the safe side.
        Sid      = "UseBucketKey"
        Effect   = "Allow"
        Action   = ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"]
        Resource = [var.kms_key_arn]
      },
      {
        Sid      = "WriteTrainingLogs"
        Effect   = "Allow"
        Action   = ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"]
        Resource = [local.training_log_group, "${local.training_log_group}:*"]
      },
      {
        # CloudWatch metrics have no resource-level permissions: AWS requires Resource "*".
        # The namespace condition narrows it to SageMaker's training metrics.
        Sid       = "PublishTrainingMetrics"
        Effect    = "Allow"
        Action    = ["cloudwatch:PutMetricData"]
        Resource  = "*"
        Condition = { StringEquals = { "cloudwatch:namespace" = "/aws/sagemaker/TrainingJobs" } }
      },
      {
        # ecr:GetAuthorizationToken is account-wide: AWS requires Resource "*".
        Sid      = "EcrAuthorization"
        Effect   = "Allow"
        Action   = ["ecr:GetAuthorizationToken"]
        Resource = "*"
      },
      {
        Sid      = "PullAlgorithmImage"
        Effect   = "Allow"
        Action   = ["ecr:BatchCheckLayerAvailability", "ecr:GetDownloadUrlForLayer", "ecr:BatchGetImage"]
        Resource = [local.ecr_repository]
      },
    ]
  }
}

resource "aws_iam_role" "this" {
  name        = "${var.name}-training"
  description = "SageMaker training job execution role for ${var.name}"
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "sagemaker.amazonaws.com" }
      Action    = "sts:AssumeRole"
      # Only this account's training jobs (SageMaker developer guide, "Cross-service
      # confused deputy prevention", training jobs: aws:SourceArn training-job/*).
      Condition = {
        StringEquals = { "aws:SourceAccount" = var.account_id }
        ArnLike      = { "aws:SourceArn" = "arn:${var.partition}:sagemaker:${var.region}:${var.account_id}:training-job/*" }
      }
    }]
  })
  tags = var.tags
}

resource "aws_iam_role_policy" "this" {
  name   = "training"
  role   = aws_iam_role.this.id
  policy = jsonencode(local.role_policy)
}

# Uploads the staged bucket layout; `scones stage --aws` skips objects whose size and MD5
# already match, so re-running it is cheap.
resource "terraform_data" "staged_data" {
  count = var.run_training_job ? 1 : 0

  # The bucket's ARN, not its name: a bucket re-created under the same name (deleted out of
  # band, then planned for create) has an ARN that is unknown until apply, which replaces
  # this resource, so the new, empty bucket is staged again. The name alone never changes.
  triggers_replace = {
    bucket    = var.bucket_arn
    train_lst = local.train_lst_sha256
    test_lst  = local.test_lst_sha256
  }

  provisioner "local-exec" {
    command = "\"$SCONES_BIN\" stage --aws --from \"$SCONES_STAGED_DIR\" --bucket \"$SCONES_BUCKET\""
    environment = {
      SCONES_BIN        = var.scones_command
      SCONES_STAGED_DIR = local.staged_dir
      SCONES_BUCKET     = var.bucket_name
      AWS_REGION        = var.region
    }
  }

  lifecycle {
    precondition {
      condition     = local.staged_data_ready
      error_message = "run_training_job = true needs staged_data_dir: a directory with train.lst and test.lst written by `scones stage` (got ${jsonencode(var.staged_data_dir)}). Or set run_training_job = false and model_data_url."
    }
  }
}

# Starts the training job (idempotent by name) and waits until it is Completed; the CLI exits
# non-zero for any other final status, which fails the apply.
resource "terraform_data" "training_job" {
  count = var.run_training_job ? 1 : 0

  triggers_replace = local.job_name

  provisioner "local-exec" {
    command = "\"$SCONES_BIN\" train --aws --job-spec \"$SCONES_TRAINING_JOB_SPEC\""
    environment = {
      SCONES_BIN               = var.scones_command
      SCONES_TRAINING_JOB_SPEC = jsonencode(local.job_spec)
      AWS_REGION               = var.region
    }
  }

  # The role's permissions must exist before SageMaker assumes it.
  depends_on = [terraform_data.staged_data, aws_iam_role_policy.this]
}
