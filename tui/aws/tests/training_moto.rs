//! `scones train --aws` over the wire against moto (whose training jobs complete at once):
//! creates the job, waits for it, and is idempotent by job name while the job's model
//! artefact exists (moto writes none: the tests put it there, or not).

#![allow(clippy::unwrap_used)] // a test or bench: a panic is its failure message

mod support;

use std::time::Duration;

use scones_aws::training::{TrainingJobSpec, WaitOptions};
use scones_aws::{
    SpecError, StartOutcome, TrainingError, run_training_job, s3_client, sagemaker_client,
    start_training_job,
};

/// A job spec whose bucket is `bucket`.
fn spec(job_name: &str, bucket: &str) -> TrainingJobSpec {
    TrainingJobSpec::from_json(&format!(
        r#"{{
          "job_name": "{job_name}",
          "region": "us-east-1",
          "role_arn": "arn:aws:iam::123456789012:role/scones-training",
          "image_uri": "811284229777.dkr.ecr.us-east-1.amazonaws.com/image-classification:1",
          "instance_type": "ml.g4dn.xlarge",
          "instance_count": 1,
          "volume_size_gb": 30,
          "max_runtime_seconds": 3600,
          "hyperparameters": {{"num_classes": "2", "image_shape": "3,32,32", "num_training_samples": "1000"}},
          "output_s3_uri": "s3://{bucket}/models",
          "output_kms_key_arn": "arn:aws:kms:us-east-1:123456789012:key/1111",
          "channels": [
            {{"name": "train", "s3_uri": "s3://{bucket}/train/", "content_type": "application/x-image"}},
            {{"name": "validation", "s3_uri": "s3://{bucket}/test/", "content_type": "application/x-image"}},
            {{"name": "train_lst", "s3_uri": "s3://{bucket}/train.lst", "content_type": "application/x-image"}},
            {{"name": "validation_lst", "s3_uri": "s3://{bucket}/test.lst", "content_type": "application/x-image"}}
          ],
          "tags": {{"Project": "scones"}}
        }}"#
    ))
    .unwrap()
}

fn fast() -> WaitOptions {
    WaitOptions {
        poll_interval: Duration::from_millis(20),
        timeout: Some(Duration::from_secs(20)),
    }
}

#[tokio::test]
async fn trains_once_and_reuses_the_job_by_name() {
    let moto = support::Moto::connect();
    let config = moto.sdk_config().await;
    let sagemaker = sagemaker_client(&config);
    let s3 = s3_client(&config, &moto.target());
    let bucket = &format!("scones-{}", support::unique());
    // Content-addressed job names are 16 hex digits: this run's own.
    let name = format!("scones-ic-{:016x}", std::process::id() as u64 * 1000 + 1);
    let spec = spec(&name, bucket);

    let mut starts = Vec::new();
    let job = run_training_job(
        &sagemaker,
        &s3,
        &spec,
        &fast(),
        &mut |s| starts.push(s.clone()),
        &mut |_| {},
    )
    .await
    .unwrap();
    assert_eq!(starts, [StartOutcome::Created]);
    assert_eq!(job.job_name, spec.job_name);
    assert_eq!(job.model_data_url, spec.expected_model_data_url());

    let described = sagemaker
        .describe_training_job()
        .training_job_name(&spec.job_name)
        .send()
        .await
        .unwrap();
    let channels: Vec<_> = described
        .input_data_config()
        .iter()
        .map(|c| c.channel_name().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(
        channels,
        ["train", "validation", "train_lst", "validation_lst"]
    );
    assert_eq!(
        described
            .hyper_parameters()
            .unwrap()
            .get("image_shape")
            .map(String::as_str),
        Some("3,32,32")
    );
    assert_eq!(
        described
            .algorithm_specification()
            .and_then(|a| a.training_image()),
        Some(spec.image_uri.as_str())
    );

    // Same name again, and the artefact gone (a destroy emptied the bucket, a new apply
    // re-created it): a clear error naming the artefact, not a model that fails later.
    s3.create_bucket().bucket(bucket).send().await.unwrap();
    let err = run_training_job(&sagemaker, &s3, &spec, &fast(), &mut |_| {}, &mut |_| {})
        .await
        .unwrap_err();
    assert!(
        matches!(&err, TrainingError::ArtifactMissing { model_data_url, .. } if *model_data_url == job.model_data_url),
        "{err}"
    );
    assert!(err.to_string().contains("can never be used again"), "{err}");

    // With the artefact there: no second job, same artifact.
    let key = job
        .model_data_url
        .strip_prefix(&format!("s3://{bucket}/"))
        .unwrap();
    s3.put_object()
        .bucket(bucket)
        .key(key)
        .body(b"model".to_vec().into())
        .send()
        .await
        .unwrap();
    let mut starts = Vec::new();
    let again = run_training_job(
        &sagemaker,
        &s3,
        &spec,
        &fast(),
        &mut |s| starts.push(s.clone()),
        &mut |_| {},
    )
    .await
    .unwrap();
    assert_eq!(
        starts,
        [StartOutcome::AlreadyExists {
            status: "Completed".into()
        }]
    );
    assert_eq!(again, job);
    let listed = sagemaker
        .list_training_jobs()
        .name_contains(&spec.job_name)
        .send()
        .await
        .unwrap();
    assert_eq!(listed.training_job_summaries().len(), 1);
}

#[tokio::test]
async fn an_invalid_spec_sends_nothing() {
    let moto = support::Moto::connect();
    let sagemaker = sagemaker_client(&moto.sdk_config().await);
    let mut bad = spec(
        "scones-ic-0123456789abcdef",
        &format!("scones-{}", support::unique()),
    );
    bad.job_name = "scones_ic".into();
    let s3 = s3_client(&moto.sdk_config().await, &moto.target());
    let err = run_training_job(&sagemaker, &s3, &bad, &fast(), &mut |_| {}, &mut |_| {})
        .await
        .unwrap_err();
    assert!(
        matches!(err, TrainingError::Spec(SpecError::InvalidJobName { .. })),
        "{err}"
    );
    // The server is shared with the other tests (which start jobs of their own), so only a
    // job under the refused name would show that something was sent.
    let listed = sagemaker
        .list_training_jobs()
        .name_contains("scones_ic")
        .send()
        .await
        .unwrap();
    assert!(listed.training_job_summaries().is_empty());
}

/// SageMaker refusing to assume a role created moments before (IAM propagation, as in the
/// `terraform apply` that creates the role and starts the job) is retried until it passes;
/// any other validation error is final at once.
#[tokio::test]
async fn a_role_not_yet_assumable_is_retried_and_other_validation_errors_are_not() {
    let moto = support::Moto::connect();
    let sagemaker = sagemaker_client(&moto.sdk_config().await);
    let bucket = format!("scones-{}", support::unique());
    let name = format!("scones-ic-{:016x}", std::process::id() as u64 * 1000 + 2);
    moto.arm_fault(&serde_json::json!({
        "operation": "CreateTrainingJob", "match": name, "count": 2,
        "code": "ValidationException",
        "message": "Could not assume role arn:aws:iam::123456789012:role/scones-training. \
                    Please ensure that the role exists and allows principal \
                    'sagemaker.amazonaws.com' to assume the role.",
    }));
    let started = std::time::Instant::now();
    let outcome = start_training_job(&sagemaker, &spec(&name, &bucket))
        .await
        .unwrap();
    assert_eq!(outcome, StartOutcome::Created);
    // Two refusals, waited out (1 s, then 2 s), then the job.
    assert!(
        started.elapsed() >= Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    let described = sagemaker
        .describe_training_job()
        .training_job_name(&name)
        .send()
        .await
        .unwrap();
    assert_eq!(described.training_job_name(), Some(name.as_str()));

    let other = format!("scones-ic-{:016x}", std::process::id() as u64 * 1000 + 3);
    moto.arm_fault(&serde_json::json!({
        "operation": "CreateTrainingJob", "match": other, "count": 1,
        "code": "ValidationException",
        "message": "1 validation error detected: Value 'ml.nope' at 'resourceConfig.instanceType' \
                    failed to satisfy constraint",
    }));
    let started = std::time::Instant::now();
    let err = start_training_job(&sagemaker, &spec(&other, &bucket))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("instanceType"), "{err}");
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "not retried: {:?}",
        started.elapsed()
    );
    assert!(
        sagemaker
            .describe_training_job()
            .training_job_name(&other)
            .send()
            .await
            .is_err(),
        "no job was created"
    );
}

/// The training channel is train.lst plus the images people labelled in review on the
/// training side of the hash split: never the held-out production validation share, never
/// test/; the job name covers them, so the same labels reuse the job and one more trains
/// anew. Images whose object is gone are named and left out.
#[tokio::test]
async fn the_training_channel_adds_reviewed_images_outside_the_held_out_share() {
    use scones_aws::reviewed_training::{LST_PREFIX, add_reviewed, copy_name};
    use scones_workflow::review::{NewLabel, ReviewReason, Use, Verdict, use_of};

    let moto = support::Moto::connect();
    let config = moto.sdk_config().await;
    let sagemaker = sagemaker_client(&config);
    let s3 = s3_client(&config, &moto.target());
    let bucket = &format!("scones-{}", support::unique());
    s3.create_bucket().bucket(bucket).send().await.unwrap();
    let put = |key: String, body: Vec<u8>| {
        let s3 = s3.clone();
        async move {
            s3.put_object()
                .bucket(bucket)
                .key(key)
                .body(body.into())
                .send()
                .await
                .unwrap();
        }
    };
    put(
        "train.lst".into(),
        b"0\t0\tbicycle_1.png\n1\t1\tmotorcycle_2.png\n".to_vec(),
    )
    .await;
    // Keys on each side of the split (the split is a hash of the key alone).
    let keys: Vec<String> = (0..200)
        .map(|i| format!("incoming/2026/img_{i}.png"))
        .collect();
    let trained: Vec<&String> = keys
        .iter()
        .filter(|k| use_of(k) == Use::Train)
        .take(3)
        .collect();
    let held: &String = keys.iter().find(|k| use_of(k) == Use::Validate).unwrap();
    for key in trained.iter().copied().chain([held]) {
        put(key.clone(), format!("png of {key}").into_bytes()).await;
    }
    put("test/bicycle_9.png".into(), b"png".to_vec()).await;
    let gone = "incoming/2026/deleted_since.png";
    assert_eq!(use_of(gone), Use::Train, "pick another name for this test");

    let label = |key: &str, label: Verdict| {
        NewLabel {
            key: key.to_owned(),
            label,
            reason: ReviewReason::DriftHold,
            model: None,
            scores: None,
            execution: None,
        }
        .record("arn:aws:iam::123456789012:user/ann", chrono::Utc::now())
    };
    let records = [
        label(trained[0], Verdict::Motorcycle),
        label(trained[1], Verdict::Bicycle),
        label(trained[2], Verdict::Unsure),
        label(held, Verdict::Bicycle),
        label("test/bicycle_9.png", Verdict::Bicycle),
        label(gone, Verdict::Bicycle),
    ];
    for r in &records {
        scones_aws::review::put_label(&s3, bucket, r).await.unwrap();
    }

    let base = spec(
        &format!("scones-ic-{:016x}", std::process::id() as u64 * 1000 + 7),
        bucket,
    );
    let (job, reviewed) = add_reviewed(&s3, &base).await.unwrap();
    let reviewed = reviewed.unwrap();
    assert_eq!(reviewed.added, 2, "{reviewed:?}");
    assert_eq!(reviewed.missing, [gone]);
    assert_eq!((reviewed.held_out, reviewed.test_split), (1, 1));
    assert_eq!(reviewed.samples, 4);
    assert!(job.job_name.starts_with(&base.job_name) && job.job_name != base.job_name);
    job.validate().unwrap();

    let lst_key = reviewed
        .lst_uri
        .strip_prefix(&format!("s3://{bucket}/"))
        .unwrap();
    assert!(lst_key.starts_with(LST_PREFIX));
    let lst = s3
        .get_object()
        .bucket(bucket)
        .key(lst_key)
        .send()
        .await
        .unwrap();
    let lst = String::from_utf8(lst.body.collect().await.unwrap().to_vec()).unwrap();
    let mut want = vec![(trained[0].as_str(), 1), (trained[1].as_str(), 0)];
    want.sort();
    let added: Vec<String> = want
        .iter()
        .enumerate()
        .map(|(i, (key, class))| format!("{}\t{class}\t{}", i + 2, copy_name(key)))
        .collect();
    assert_eq!(
        lst,
        format!(
            "0\t0\tbicycle_1.png\n1\t1\tmotorcycle_2.png\n{}\n",
            added.join("\n")
        )
    );
    // The copies are in the training channel, with the image's bytes.
    for (key, _) in &want {
        let copy = s3
            .get_object()
            .bucket(bucket)
            .key(format!("train/{}", copy_name(key)))
            .send()
            .await
            .unwrap();
        assert_eq!(
            copy.body.collect().await.unwrap().to_vec(),
            format!("png of {key}").into_bytes()
        );
    }

    // The job SageMaker gets reads the combined list.
    run_training_job(&sagemaker, &s3, &job, &fast(), &mut |_| {}, &mut |_| {})
        .await
        .unwrap();
    let described = sagemaker
        .describe_training_job()
        .training_job_name(&job.job_name)
        .send()
        .await
        .unwrap();
    let lst_channel = described
        .input_data_config()
        .iter()
        .find(|c| c.channel_name() == Some("train_lst"))
        .and_then(|c| {
            c.data_source()?
                .s3_data_source()?
                .s3_uri()
                .map(str::to_owned)
        });
    assert_eq!(lst_channel.as_deref(), Some(reviewed.lst_uri.as_str()));
    assert_eq!(
        described
            .hyper_parameters()
            .unwrap()
            .get("num_training_samples")
            .map(String::as_str),
        Some("4")
    );

    // The same labels: the same job. One more label: another.
    let (again, _) = add_reviewed(&s3, &base).await.unwrap();
    assert_eq!(again.job_name, job.job_name);
    scones_aws::review::put_label(&s3, bucket, &label(trained[2], Verdict::Bicycle))
        .await
        .unwrap();
    let (more, more_reviewed) = add_reviewed(&s3, &base).await.unwrap();
    assert_ne!(more.job_name, job.job_name);
    assert_eq!(more_reviewed.unwrap().added, 3);

    // Nobody reviewed anything: Terraform's job, untouched.
    let empty = &format!("scones-{}", support::unique());
    s3.create_bucket().bucket(empty).send().await.unwrap();
    let plain = spec(&base.job_name, empty);
    let (same, none) = add_reviewed(&s3, &plain).await.unwrap();
    assert_eq!((same, none), (plain, None));
}
