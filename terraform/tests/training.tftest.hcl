# The training job: content-addressed name, model_data_url derived from it, the spec handed
# to `scones train --aws`. Plans only: apply would run the local-exec provisioners.

mock_provider "aws" {
  source = "./tests/mocks"
}

variables {
  name             = "scones"
  partition        = "aws"
  region           = "us-east-1"
  account_id       = "123456789012"
  bucket_name      = "scones-123456789012-us-east-1"
  bucket_arn       = "arn:aws:s3:::scones-123456789012-us-east-1"
  kms_key_arn      = "arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555"
  run_training_job = true
  staged_data_dir  = "./tests/fixtures/staged"
}

run "job_is_content_addressed" {
  command = plan

  module {
    source = "./modules/training"
  }

  assert {
    condition     = can(regex("^scones-ic-[0-9a-f]{16}$", output.job_name))
    error_message = "The job name must be <name>-ic-<16 hex digits>."
  }

  assert {
    condition = jsondecode(aws_iam_role.this.assume_role_policy).Statement[0].Condition == {
      StringEquals = { "aws:SourceAccount" = "123456789012" }
      ArnLike      = { "aws:SourceArn" = "arn:aws:sagemaker:us-east-1:123456789012:training-job/*" }
    }
    error_message = "The training role trusts SageMaker only for this account's training jobs (confused-deputy prevention)."
  }

  assert {
    condition     = output.model_data_url == "s3://scones-123456789012-us-east-1/models/${output.job_name}/output/model.tar.gz"
    error_message = "model_data_url must be derived from the job name."
  }

  assert {
    condition = (
      output.hyperparameters.num_classes == "2" &&
      output.hyperparameters.image_shape == "3,32,32" &&
      output.hyperparameters.num_training_samples == "3"
    )
    error_message = "Hyperparameters must be 2 classes, 3x32x32, and num_training_samples counted from train.lst (3 lines)."
  }

  assert {
    condition = (
      output.hyperparameters.use_pretrained_model == "0" &&
      contains(["20", "32", "44", "56", "110"], output.hyperparameters.num_layers) &&
      tonumber(output.hyperparameters.resize) > 32
    )
    error_message = "From scratch at 32x32: a small-image depth (20-110, per the algorithm's docs; pretrained models are 224x224 ImageNet depths) and resize set above 32 (required with image content types)."
  }

  assert {
    condition = {
      for c in output.job_spec.channels : c.name => c.s3_uri
      } == {
      train          = "s3://scones-123456789012-us-east-1/train/"
      validation     = "s3://scones-123456789012-us-east-1/test/"
      train_lst      = "s3://scones-123456789012-us-east-1/train.lst"
      validation_lst = "s3://scones-123456789012-us-east-1/test.lst"
    }
    error_message = "The job needs the train, validation, train_lst and validation_lst channels."
  }

  assert {
    condition     = output.image_uri == "811284229777.dkr.ecr.us-east-1.amazonaws.com/image-classification:1"
    error_message = "The image must come from aws_sagemaker_prebuilt_ecr_image."
  }

  assert {
    condition     = terraform_data.training_job[0].triggers_replace == output.job_name
    error_message = "The training resource must be replaced exactly when the job name changes."
  }

  assert {
    condition = jsonencode([
      for st in jsondecode(aws_iam_role_policy.this.policy).Statement : sort(st.Action)
      if lookup(st, "Sid", "") == "UseBucketKey"
    ]) == jsonencode([["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"]])
    error_message = "The training role may use the bucket key to encrypt the model artefact (kms:Encrypt, as the OutputDataConfig docs require)."
  }

  assert {
    condition = jsonencode([
      for st in jsondecode(aws_iam_role_policy.this.policy).Statement : [
        for r in flatten([st.Resource]) : r if strcontains(r, "/review/")
      ]
      if lookup(st, "Sid", "") == "ReadTrainingData"
    ]) == jsonencode([["arn:aws:s3:::scones-123456789012-us-east-1/review/training/*"]])
    error_message = "The training role reads the combined lists `scones train --aws` writes with reviewed images (review/training/*), and nothing else under review/ (not the label records)."
  }
}

run "same_inputs_same_name" {
  command = plan

  module {
    source = "./modules/training"
  }

  assert {
    condition     = output.job_name == run.job_is_content_addressed.job_name
    error_message = "The same hyperparameters and .lst files must give the same job name."
  }
}

run "new_hyperparameters_new_name" {
  command = plan

  module {
    source = "./modules/training"
  }

  variables {
    hyperparameters = { epochs = "50" }
  }

  assert {
    condition     = output.job_name != run.job_is_content_addressed.job_name && output.hyperparameters.epochs == "50"
    error_message = "Changing a hyperparameter must change the job name."
  }

  assert {
    condition     = output.hyperparameters.checkpoint_frequency == "50"
    error_message = "The model kept is the last epoch's (checkpoint_frequency = epochs), never the one that scored best on the validation channel, which is test/."
  }
}

run "another_key_instance_or_limit_new_name" {
  command = plan

  module {
    source = "./modules/training"
  }

  # A re-created stack has a new KMS key: its job must not be the destroyed stack's, whose
  # artefact is gone.
  variables {
    kms_key_arn = "arn:aws:kms:us-east-1:123456789012:key/99999999-2222-3333-4444-555555555555"
  }

  assert {
    condition     = output.job_name != run.job_is_content_addressed.job_name
    error_message = "Another KMS key (a re-created stack) must give another job name."
  }
}

run "another_instance_type_new_name" {
  command = plan

  module {
    source = "./modules/training"
  }

  variables {
    instance_type       = "ml.p3.2xlarge"
    max_runtime_seconds = 7200
  }

  assert {
    condition     = output.job_name != run.job_is_content_addressed.job_name
    error_message = "A failed job must be retriable with another instance type or run-time limit: they change the job name."
  }
}

run "missing_staged_data_fails" {
  command = plan

  module {
    source = "./modules/training"
  }

  variables {
    staged_data_dir = "./tests/fixtures/does-not-exist"
  }

  expect_failures = [terraform_data.staged_data]
}

run "no_training_no_provisioners" {
  command = plan

  module {
    source = "./modules/training"
  }

  variables {
    run_training_job = false
    staged_data_dir  = null
  }

  assert {
    condition     = length(terraform_data.training_job) == 0 && length(terraform_data.staged_data) == 0
    error_message = "run_training_job = false must not start a job."
  }
}

run "cpu_instance_rejected" {
  command = plan

  module {
    source = "./modules/training"
  }

  variables {
    instance_type = "ml.m5.large"
  }

  expect_failures = [var.instance_type]
}

# Through the root: the endpoint serves the training job's artifact.
run "root_endpoint_serves_training_artifact" {
  command = plan

  module {
    source = "./"
  }

  variables {
    lambda_package_dir = "./tests/fixtures/lambda"
    bucket_name        = "scones-123456789012-us-east-1"
  }

  assert {
    condition     = output.model_data_url == "s3://scones-123456789012-us-east-1/models/${output.training_job_name}/output/model.tar.gz" && output.endpoint_created
    error_message = "With run_training_job the endpoint must serve the job's model.tar.gz."
  }
}
