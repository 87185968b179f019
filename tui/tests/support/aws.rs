//! Fixtures of the over-the-wire AWS tests: the moto wrapper that scripts/with-moto.sh
//! started (SCONES_MOTO_ENDPOINT; missing or unreachable is a failure, never a skip), and a
//! [`Stack`] per test created with the SDK: a bucket with `test/` images, the one workflow
//! definition (terraform/workflow/scones.asl.json) rendered with this stack's Lambda ARNs,
//! log groups, and the resources the AWS code discovers.
//!
//! Every name carries a unique suffix, so the tests of a binary run in parallel against one
//! moto server without seeing each other's executions, metrics, logs or objects. The
//! wrapper's control API (scripts/moto/wire.py, lambdas.py) programs what each Lambda
//! answers and injects faults; fault matches use the stack's unique names for the same reason.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use aws_config::SdkConfig;
use scones_aws::{AwsTarget, Resources};
use serde_json::{Value, json};

/// Account id moto uses.
pub const ACCOUNT: &str = "123456789012";
/// Region of every fixture.
pub const REGION: &str = "us-east-1";
/// Keys uploaded under test/ in every stack.
pub const TEST_KEYS: [&str; 3] = [
    "test/bicycle_s_000001.png",
    "test/motorcycle_s_000002.png",
    "test/bicycle_s_000003.png",
];
/// Scores ClassifyImage answers by default in these tests.
pub const SCORES: [f64; 2] = [0.97, 0.03];

/// The moto wrapper's base URL, from SCONES_MOTO_ENDPOINT, checked to answer.
pub fn endpoint() -> String {
    let url = std::env::var("SCONES_MOTO_ENDPOINT").unwrap_or_else(|_| {
        panic!(
            "SCONES_MOTO_ENDPOINT is not set: run these tests through scripts/with-moto.sh \
             (scripts/test.sh's `aws` suite does)"
        )
    });
    let (status, body) = http(&url, "GET", "/moto-api/", None);
    assert_eq!(
        status, 200,
        "moto at {url} (SCONES_MOTO_ENDPOINT) does not answer: {body}"
    );
    url
}

fn host_port(url: &str) -> &str {
    url.trim_start_matches("http://").trim_end_matches('/')
}

/// A minimal HTTP/1.0 request to the wrapper's control API (plain HTTP on loopback).
pub fn http(url: &str, method: &str, path: &str, body: Option<&Value>) -> (u16, String) {
    let addr = host_port(url);
    let mut stream = TcpStream::connect(addr)
        .unwrap_or_else(|e| panic!("cannot connect to moto at {addr} (SCONES_MOTO_ENDPOINT): {e}"));
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let payload = body.map(Value::to_string).unwrap_or_default();
    let request = format!(
        "{method} {path} HTTP/1.0\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\n\r\n{payload}",
        payload.len()
    );
    stream.write_all(request.as_bytes()).unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let status = response
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

/// POSTs a control document and checks it was accepted.
pub fn control(path: &str, body: Value) -> Value {
    let (status, text) = http(&endpoint(), "POST", path, Some(&body));
    assert_eq!(status, 200, "{path} refused {body}: {text}");
    serde_json::from_str(&text).unwrap_or(Value::Null)
}

/// The faults armed now (with how often each fired).
pub fn faults() -> Vec<Value> {
    let (_, text) = http(&endpoint(), "GET", "/scones-api/faults", None);
    let doc: Value = serde_json::from_str(&text).unwrap();
    doc["faults"].as_array().cloned().unwrap_or_default()
}

/// A unique, valid resource-name suffix.
pub fn unique(tag: &str) -> String {
    let n: u32 = rand::random();
    format!("{tag}-{:x}-{n:08x}", chrono::Utc::now().timestamp_millis())
}

/// The target the code under test is given.
pub fn target() -> AwsTarget {
    AwsTarget {
        profile: None,
        region: Some(REGION.into()),
        endpoint_url: Some(endpoint()),
    }
}

/// SDK configuration with fake credentials.
pub async fn sdk_config() -> SdkConfig {
    scones_aws::config_loader(&target())
        .credentials_provider(aws_sdk_s3::config::Credentials::new(
            "test", "test", None, None, "moto",
        ))
        .load()
        .await
}

/// One deployed scones stack in moto.
pub struct Stack {
    /// Unique suffix of every name.
    pub id: String,
    pub config: SdkConfig,
    pub bucket: String,
    pub state_machine_arn: String,
    /// serialize, classify, filter function names.
    pub functions: [String; 3],
    pub workflow_log_group: String,
    pub filter_log_group: String,
    pub endpoint_name: String,
    pub sfn: aws_sdk_sfn::Client,
    pub s3: aws_sdk_s3::Client,
}

/// The function ARN moto's Lambda answers for (it need not exist: the Docker-less Invoke
/// never looks it up, and the wrapper programs answers by name).
pub fn function_arn(name: &str) -> String {
    format!("arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}")
}

/// The one definition with `functions` rendered in, as Terraform's templatefile does.
pub fn render_definition(functions: &[String; 3]) -> String {
    use scones_workflow::definition::{
        CLASSIFY_IMAGE, DEFINITION, FILTER_LOW_CONFIDENCE, SERIALIZE_IMAGE_DATA, variables,
    };
    let vars = variables("aws", |f| {
        let i = [SERIALIZE_IMAGE_DATA, CLASSIFY_IMAGE, FILTER_LOW_CONFIDENCE]
            .iter()
            .position(|g| *g == f)
            .expect("one of the three functions");
        function_arn(&functions[i])
    });
    let mut text = DEFINITION.to_owned();
    for (var, value) in vars {
        text = text.replace(&format!("${{{var}}}"), &value);
    }
    assert!(!text.contains("${"), "unrendered variable left: {text}");
    text
}

impl Stack {
    /// Bucket with [`TEST_KEYS`], the state machine, both log groups; ClassifyImage answers
    /// [`SCORES`] merged into its input.
    pub async fn create(tag: &str) -> Stack {
        let id = unique(tag);
        let config = sdk_config().await;
        let s3 = aws_sdk_s3::Client::from_conf(
            aws_sdk_s3::config::Builder::from(&config)
                .force_path_style(true)
                .build(),
        );
        let sfn = aws_sdk_sfn::Client::new(&config);
        let logs = aws_sdk_cloudwatchlogs::Client::new(&config);
        let bucket = format!("scones-{id}");
        s3.create_bucket().bucket(&bucket).send().await.unwrap();
        for key in TEST_KEYS {
            put_object(&s3, &bucket, key, b"\x89PNG placeholder".to_vec()).await;
        }
        let functions = [
            format!("{id}-serialize-image-data"),
            format!("{id}-classify-image"),
            format!("{id}-filter-low-confidence"),
        ];
        let state_machine_arn = sfn
            .create_state_machine()
            .name(format!("scones-{id}"))
            .definition(render_definition(&functions))
            .role_arn(format!("arn:aws:iam::{ACCOUNT}:role/scones-{id}-workflow"))
            .send()
            .await
            .unwrap()
            .state_machine_arn()
            .to_owned();
        let workflow_log_group = format!("/aws/vendedlogs/states/scones-{id}");
        let filter_log_group = format!("/aws/lambda/{}", functions[2]);
        for group in [&workflow_log_group, &filter_log_group] {
            logs.create_log_group()
                .log_group_name(group)
                .send()
                .await
                .unwrap();
        }
        let stack = Stack {
            endpoint_name: format!("scones-{id}"),
            id,
            config,
            bucket,
            state_machine_arn,
            functions,
            workflow_log_group,
            filter_log_group,
            sfn,
            s3,
        };
        stack.program(1, json!({"merge": {"inferences": SCORES}}));
        stack
    }

    /// What `terraform output -json` says about this stack (the `scones` object).
    pub fn outputs(&self) -> Value {
        json!({
            "region": REGION,
            "bucket": self.bucket,
            "state_machine_arn": self.state_machine_arn,
            "endpoint_name": self.endpoint_name,
            "endpoint_created": true,
            "function_names": {
                "serialize-image-data": self.functions[0],
                "classify-image": self.functions[1],
                "filter-low-confidence": self.functions[2],
            },
            "log_groups": {
                "workflow": self.workflow_log_group,
                "filter-low-confidence": self.filter_log_group,
            },
            "threshold": 0.93,
            "data_capture_prefix": "datacapture/",
            "drift": {
                "function_name": format!("scones-{}-monitor-drift", self.id),
                "baseline_key": self.drift_baseline_key(),
                "reports_prefix": format!("drift/reports/{}/", self.endpoint_name),
                "metric_namespace": format!("Scones/Drift/{}", self.id),
                "schedule_minutes": 15,
                "guard": "hold",
            },
        })
    }

    /// Destroys and re-creates the state machine under the same name and ARN (what a
    /// `terraform destroy` and `apply` does): its executions are gone.
    pub async fn recreate_state_machine(&self) {
        self.sfn
            .delete_state_machine()
            .state_machine_arn(&self.state_machine_arn)
            .send()
            .await
            .unwrap();
        let arn = self
            .sfn
            .create_state_machine()
            .name(format!("scones-{}", self.id))
            .definition(render_definition(&self.functions))
            .role_arn(format!(
                "arn:aws:iam::{ACCOUNT}:role/scones-{}-workflow",
                self.id
            ))
            .send()
            .await
            .unwrap()
            .state_machine_arn()
            .to_owned();
        assert_eq!(arn, self.state_machine_arn);
    }

    /// Where the drift baseline of this stack's endpoint goes (as terraform/modules/drift).
    pub fn drift_baseline_key(&self) -> String {
        format!("drift/baselines/{}.json", self.endpoint_name)
    }

    /// The resources the AWS code reads.
    pub fn resources(&self) -> Resources {
        Resources::from_output_json(
            &json!({"scones": {"value": self.outputs()}}).to_string(),
            "fixture",
        )
        .unwrap()
    }

    /// Programs Lambda `index` (0 serialize, 1 classify, 2 filter): see
    /// scripts/moto/lambdas.py for the behaviour fields.
    pub fn program(&self, index: usize, mut behaviour: Value) {
        behaviour["function"] = json!(self.functions[index]);
        control("/scones-api/lambda", behaviour);
    }

    /// FilterLowConfidence fails images whose key contains `key_part` the way the real
    /// handler does (errorType LowConfidence, scores in the message).
    pub fn fail_low_confidence(&self, key_part: &str, scores: [f64; 2]) {
        self.program(
            2,
            json!({
                "match": key_part,
                "error": {
                    "errorType": "LowConfidence",
                    "errorMessage": format!(
                        "confidence {:.4} is below the threshold 0.93: p_bicycle={:.4}, p_motorcycle={:.4}",
                        scores[0].max(scores[1]), scores[0], scores[1]
                    ),
                },
            }),
        );
    }

    /// Deletes the staged test images (the `test/` objects of [`TEST_KEYS`]).
    pub async fn delete_test_images(&self) {
        for key in TEST_KEYS {
            self.s3
                .delete_object()
                .bucket(&self.bucket)
                .key(key)
                .send()
                .await
                .unwrap();
        }
    }

    /// Starts one execution on `key` with the SDK (as the console would).
    pub async fn start(&self, key: &str) -> String {
        self.sfn
            .start_execution()
            .state_machine_arn(&self.state_machine_arn)
            .name(unique("exec"))
            .input(json!({"s3_bucket": self.bucket, "s3_key": key}).to_string())
            .send()
            .await
            .unwrap()
            .execution_arn()
            .to_owned()
    }

    /// Waits (at most 30 s) until the execution left RUNNING; returns its status.
    pub async fn wait_final(&self, arn: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let d = self
                .sfn
                .describe_execution()
                .execution_arn(arn)
                .send()
                .await
                .unwrap();
            let status = d.status().as_str().to_owned();
            if status != "RUNNING" {
                return status;
            }
            assert!(Instant::now() < deadline, "{arn} still RUNNING after 30 s");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Every execution of the state machine: ARN -> input.
    pub async fn executions(&self) -> BTreeMap<String, Value> {
        let listed = self
            .sfn
            .list_executions()
            .state_machine_arn(&self.state_machine_arn)
            .send()
            .await
            .unwrap();
        let mut out = BTreeMap::new();
        for e in listed.executions() {
            let d = self
                .sfn
                .describe_execution()
                .execution_arn(e.execution_arn())
                .send()
                .await
                .unwrap();
            let input: Value = serde_json::from_str(d.input().unwrap_or("null")).unwrap();
            out.insert(e.execution_arn().to_owned(), input);
        }
        out
    }
}

/// Puts one object.
pub async fn put_object(s3: &aws_sdk_s3::Client, bucket: &str, key: &str, body: Vec<u8>) {
    s3.put_object()
        .bucket(bucket)
        .key(key)
        .body(body.into())
        .send()
        .await
        .unwrap();
}

/// Reads one object whole.
pub async fn get_object(s3: &aws_sdk_s3::Client, bucket: &str, key: &str) -> Vec<u8> {
    let object = s3
        .get_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .unwrap();
    object.body.collect().await.unwrap().into_bytes().to_vec()
}
