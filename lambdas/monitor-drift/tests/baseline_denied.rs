//! A missing baseline that S3 answers with 403 rather than 404. The function's ListBucket
//! grant is conditioned on prefixes and a GetObject request carries none, so on a fresh
//! deploy (no `scones baseline --aws` yet) S3 may say AccessDenied for the baseline: that
//! must be "no baseline yet", not a failed run every schedule (and an error alarm 30 min
//! after the deploy). A real denial (the baseline is there and listed) stays an error.
//!
//! The emulator does not enforce IAM, so a small S3 on 127.0.0.1 plays the two answers.

#![allow(clippy::unwrap_used)] // a test: a panic is its failure message

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use monitor_drift::{Config, Monitor, MonitorError, Outcome};
use scones_workflow::drift::{Cutoffs, DriftOptions};

const BASELINE_KEY: &str = "drift/baselines/scones-endpoint.json";

/// An S3 that denies every GetObject and lists the baseline key only when `listed`; the
/// request lines it saw.
fn denying_s3(listed: bool) -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&seen);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut request = String::new();
            if reader.read_line(&mut request).is_err() {
                continue;
            }
            // The rest of the head (no request here has a body).
            let mut line = String::new();
            while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                line.clear();
            }
            log.lock().unwrap().push(request.trim().to_owned());
            let (status, body) = if request.contains("list-type=2") {
                let contents = if listed {
                    format!("<Contents><Key>{BASELINE_KEY}</Key><Size>10</Size></Contents>")
                } else {
                    String::new()
                };
                (
                    "200 OK",
                    format!(
                        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><ListBucketResult>\
                         <Name>b</Name><Prefix>{BASELINE_KEY}</Prefix><KeyCount>{}</KeyCount>\
                         <MaxKeys>1</MaxKeys><IsTruncated>false</IsTruncated>{contents}\
                         </ListBucketResult>",
                        usize::from(listed)
                    ),
                )
            } else {
                (
                    "403 Forbidden",
                    "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>AccessDenied</Code>\
                     <Message>Access Denied</Message></Error>"
                        .to_owned(),
                )
            };
            let _ = write!(
                stream,
                "HTTP/1.1 {status}\r\nContent-Type: application/xml\r\nContent-Length: {}\r\n\
                 Connection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    (url, seen)
}

async fn monitor(url: &str) -> Monitor {
    let sdk = scones_lambda_runtime::sdk_config().await;
    let s3 = aws_sdk_s3::config::Builder::from(&sdk)
        .endpoint_url(url)
        .force_path_style(true)
        .region(aws_sdk_s3::config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_s3::config::Credentials::new(
            "test", "test", None, None, "test",
        ))
        .build();
    Monitor {
        s3: aws_sdk_s3::Client::from_conf(s3),
        cloudwatch: aws_sdk_cloudwatch::Client::new(&sdk),
        config: Config {
            bucket: "scones-bucket".to_owned(),
            endpoint: "scones-endpoint".to_owned(),
            capture_prefix: "datacapture/scones-endpoint/AllTraffic/".to_owned(),
            baseline_key: BASELINE_KEY.to_owned(),
            report_prefix: "drift/reports/scones-endpoint/".to_owned(),
            namespace: "Scones/Drift".to_owned(),
            options: DriftOptions {
                window: "1h".parse().unwrap(),
                windows: 6,
                threshold: 0.93,
                cutoffs: Cutoffs::default(),
            },
            guard_mode: scones_workflow::guard::GuardMode::Hold,
        },
    }
}

#[tokio::test]
async fn a_denied_baseline_that_is_not_listed_is_no_baseline_yet() {
    let (url, seen) = denying_s3(false);
    let outcome = monitor(&url).await.run(chrono::Utc::now()).await.unwrap();
    assert!(
        matches!(&outcome, Outcome::NoBaseline { key } if key == BASELINE_KEY),
        "{outcome:?}"
    );
    let seen = seen.lock().unwrap();
    assert!(seen[0].starts_with("GET"), "{seen:?}");
    assert!(seen.iter().any(|r| r.contains("list-type=2")), "{seen:?}");
}

#[tokio::test]
async fn a_denied_baseline_that_is_listed_is_an_error() {
    let (url, _) = denying_s3(true);
    let err = monitor(&url)
        .await
        .run(chrono::Utc::now())
        .await
        .unwrap_err();
    assert!(
        matches!(&err, MonitorError::S3 { operation: "GetObject", key, .. } if key == BASELINE_KEY),
        "{err}"
    );
}
