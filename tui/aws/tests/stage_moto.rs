//! `scones stage --aws` over the wire against moto: uploads the layout, skips what is
//! unchanged, uploads what changed, and reports bucket errors.

#![allow(clippy::unwrap_used)] // a test or bench: a panic is its failure message

mod support;

use std::path::Path;
use std::sync::Mutex;

use md5::{Digest, Md5};

use scones_aws::stage::{MD5_METADATA_KEY, StageOptions};
use scones_aws::{StageError, StageEvent, s3_client, stage_to_s3};

fn write(path: &Path, content: &[u8]) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, content).unwrap();
}

fn layout(root: &Path) {
    write(
        &root.join("train.lst"),
        b"0\t0\ttrain/bicycle_1.png\n1\t1\ttrain/motorcycle_2.png\n",
    );
    write(&root.join("test.lst"), b"0\t0\ttest/bicycle_3.png\n");
    write(&root.join("train/bicycle_1.png"), b"\x89PNG one");
    write(&root.join("train/motorcycle_2.png"), b"\x89PNG two");
    write(&root.join("test/bicycle_3.png"), b"\x89PNG three");
    // A local bucket also holds these; they must stay local.
    write(&root.join("models/local-cnn.json"), b"{}");
    write(&root.join("datacapture/2024/01/01/capture.jsonl"), b"{}");
}

const KEYS: [&str; 5] = [
    "test.lst",
    "test/bicycle_3.png",
    "train.lst",
    "train/bicycle_1.png",
    "train/motorcycle_2.png",
];

async fn bucket_keys(s3: &aws_sdk_s3::Client, bucket: &str) -> Vec<String> {
    let listed = s3.list_objects_v2().bucket(bucket).send().await.unwrap();
    let mut keys: Vec<String> = listed
        .contents()
        .iter()
        .filter_map(|o| o.key().map(str::to_owned))
        .collect();
    keys.sort();
    keys
}

#[tokio::test]
async fn stages_the_layout_and_skips_unchanged_objects() {
    let moto = support::Moto::connect();
    let s3 = s3_client(&moto.sdk_config().await, &moto.target());
    let staging = format!("staging-{}", support::unique());
    s3.create_bucket().bucket(&staging).send().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    layout(dir.path());
    let events = Mutex::new(Vec::new());
    let record = |e: StageEvent| events.lock().unwrap().push(e);

    // First run: everything is uploaded, nothing else.
    let report = stage_to_s3(&s3, dir.path(), &staging, &StageOptions::default(), &record)
        .await
        .unwrap();
    assert_eq!(report.uploaded, KEYS);
    assert_eq!(report.skipped, 0);
    assert_eq!(bucket_keys(&s3, &staging).await, KEYS);
    {
        let events = events.lock().unwrap();
        assert!(matches!(events[0], StageEvent::Scanned { files: 5, .. }));
        assert!(matches!(
            events[1],
            StageEvent::Planned {
                upload: 5,
                skip: 0,
                ..
            }
        ));
        assert_eq!(
            events
                .iter()
                .filter(|e| matches!(e, StageEvent::Uploaded { .. }))
                .count(),
            5
        );
    }
    let head = s3
        .head_object()
        .bucket(&staging)
        .key("train/bicycle_1.png")
        .send()
        .await
        .unwrap();
    assert_eq!(head.content_type(), Some("image/png"));
    assert_eq!(
        head.metadata()
            .unwrap()
            .get(MD5_METADATA_KEY)
            .map(String::as_str),
        Some(hex::encode(Md5::digest(b"\x89PNG one")).as_str())
    );

    // Second run: nothing changed, nothing sent.
    let report = stage_to_s3(&s3, dir.path(), &staging, &StageOptions::default(), &|_| {})
        .await
        .unwrap();
    assert!(report.uploaded.is_empty(), "{:?}", report.uploaded);
    assert_eq!(report.skipped, 5);

    // Same size, new content; and a new size: exactly those two go up.
    write(&dir.path().join("train/bicycle_1.png"), b"\x89PNG ONE");
    write(
        &dir.path().join("test.lst"),
        b"0\t0\ttest/bicycle_3.png\n1\t1\ttest/x.png\n",
    );
    let dry = StageOptions {
        dry_run: true,
        ..StageOptions::default()
    };
    let report = stage_to_s3(&s3, dir.path(), &staging, &dry, &|_| {})
        .await
        .unwrap();
    assert_eq!(report.uploaded, ["test.lst", "train/bicycle_1.png"]);
    let body = s3
        .get_object()
        .bucket(&staging)
        .key("train/bicycle_1.png")
        .send()
        .await
        .unwrap()
        .body
        .collect()
        .await
        .unwrap()
        .into_bytes();
    assert_eq!(&body[..], b"\x89PNG one", "a dry run must not upload");

    let report = stage_to_s3(&s3, dir.path(), &staging, &StageOptions::default(), &|_| {})
        .await
        .unwrap();
    assert_eq!(report.uploaded, ["test.lst", "train/bicycle_1.png"]);
    assert_eq!(report.skipped, 3);
    let body = s3
        .get_object()
        .bucket(&staging)
        .key("train/bicycle_1.png")
        .send()
        .await
        .unwrap()
        .body
        .collect()
        .await
        .unwrap()
        .into_bytes();
    assert_eq!(&body[..], b"\x89PNG ONE");
}

/// The bucket as terraform/modules/storage makes it: versioned, SSE-KMS by default, and a
/// policy that denies requests without TLS (the moto wrapper treats its plain-HTTP requests
/// as TLS, as clients of AWS are).
#[tokio::test]
async fn stages_into_a_bucket_shaped_like_terraforms() {
    let moto = support::Moto::connect();
    let config = moto.sdk_config().await;
    let s3 = s3_client(&config, &moto.target());
    let bucket = &format!("scones-{}", support::unique());
    s3.create_bucket().bucket(bucket).send().await.unwrap();
    s3.put_bucket_versioning()
        .bucket(bucket)
        .versioning_configuration(
            aws_sdk_s3::types::VersioningConfiguration::builder()
                .status(aws_sdk_s3::types::BucketVersioningStatus::Enabled)
                .build(),
        )
        .send()
        .await
        .unwrap();
    s3.put_bucket_encryption()
        .bucket(bucket)
        .server_side_encryption_configuration(
            aws_sdk_s3::types::ServerSideEncryptionConfiguration::builder()
                .rules(
                    aws_sdk_s3::types::ServerSideEncryptionRule::builder()
                        .apply_server_side_encryption_by_default(
                            aws_sdk_s3::types::ServerSideEncryptionByDefault::builder()
                                .sse_algorithm(aws_sdk_s3::types::ServerSideEncryption::AwsKms)
                                .build()
                                .unwrap(),
                        )
                        .bucket_key_enabled(true)
                        .build(),
                )
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let tls_only = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Sid":"DenyInsecureTransport","Effect":"Deny",
        "Principal":"*","Action":"s3:*","Resource":["arn:aws:s3:::{bucket}","arn:aws:s3:::{bucket}/*"],
        "Condition":{{"Bool":{{"aws:SecureTransport":"false"}}}}}}]}}"#
    );
    s3.put_bucket_policy()
        .bucket(bucket)
        .policy(tls_only)
        .send()
        .await
        .unwrap();

    let dir = tempfile::tempdir().unwrap();
    layout(dir.path());
    let report = stage_to_s3(&s3, dir.path(), bucket, &StageOptions::default(), &|_| {})
        .await
        .unwrap();
    assert_eq!(report.uploaded, KEYS);
    let again = stage_to_s3(&s3, dir.path(), bucket, &StageOptions::default(), &|_| {})
        .await
        .unwrap();
    assert_eq!((again.uploaded.len(), again.skipped), (0, 5));
}

#[tokio::test]
async fn a_missing_bucket_is_a_typed_error() {
    let moto = support::Moto::connect();
    let s3 = s3_client(&moto.sdk_config().await, &moto.target());
    let dir = tempfile::tempdir().unwrap();
    layout(dir.path());
    let err = stage_to_s3(
        &s3,
        dir.path(),
        "no-such-bucket",
        &StageOptions::default(),
        &|_| {},
    )
    .await
    .unwrap_err();
    assert!(
        matches!(&err, StageError::List { bucket, .. } if bucket == "no-such-bucket"),
        "{err}"
    );
    assert!(err.to_string().contains("NoSuchBucket"), "{err}");
}
