//! Every SDK client the dashboard and `scones run --aws` use, built once from one
//! [`SdkConfig`], with the same retry policy and the same [`CallCounter`].

use std::time::Duration;

use aws_config::SdkConfig;
use aws_config::retry::RetryConfig;

use crate::calls::CallCounter;
use crate::config::AwsTarget;

/// How the SDK retries throttled (ThrottlingException, SlowDown, 429) and transient
/// (5xx, timeouts) answers: the SDK's standard strategy, exponential backoff with full
/// jitter between `initial_backoff` and `max_backoff`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Tries per call, the first included (1: no retries).
    pub max_attempts: u32,
    /// Base of the exponential backoff.
    pub initial_backoff: Duration,
    /// Upper bound of one backoff.
    pub max_backoff: Duration,
}

impl Default for RetryPolicy {
    /// Four tries, 200 ms base, 10 s cap: a throttled dashboard refresh waits about a
    /// second in total before it reports throttling and the dashboard's own schedule backs
    /// off further.
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 4,
            initial_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(10),
        }
    }
}

impl RetryPolicy {
    /// The SDK's form of this policy.
    pub fn retry_config(&self) -> RetryConfig {
        RetryConfig::standard()
            .with_max_attempts(self.max_attempts.max(1))
            .with_initial_backoff(self.initial_backoff)
            .with_max_backoff(self.max_backoff)
    }
}

/// The SDK clients, sharing one retry policy and one call counter. Cheap to clone.
#[derive(Debug, Clone)]
pub struct AwsClients {
    /// Step Functions.
    pub sfn: aws_sdk_sfn::Client,
    /// CloudWatch (metrics).
    pub cloudwatch: aws_sdk_cloudwatch::Client,
    /// CloudWatch Logs.
    pub logs: aws_sdk_cloudwatchlogs::Client,
    /// S3 (path-style against custom endpoints).
    pub s3: aws_sdk_s3::Client,
    /// SageMaker (control plane: DescribeEndpoint).
    pub sagemaker: aws_sdk_sagemaker::Client,
    /// SageMaker Runtime (InvokeEndpoint: `scones eval --aws`, `scones baseline --aws`).
    pub sagemaker_runtime: aws_sdk_sagemakerruntime::Client,
    /// STS (GetCallerIdentity: who a review label is from).
    pub sts: aws_sdk_sts::Client,
    /// Counts every request the clients above send.
    pub counter: CallCounter,
    /// The region the clients talk to (`None` if the chain found none).
    pub region: Option<String>,
}

impl AwsClients {
    /// Builds the clients from `config`.
    pub fn new(config: &SdkConfig, target: &AwsTarget, retry: RetryPolicy) -> AwsClients {
        let counter = CallCounter::new();
        let retry_config = retry.retry_config();
        let sfn = aws_sdk_sfn::Client::from_conf(
            aws_sdk_sfn::config::Builder::from(config)
                .retry_config(retry_config.clone())
                .interceptor(counter.clone())
                .build(),
        );
        let cloudwatch = aws_sdk_cloudwatch::Client::from_conf(
            aws_sdk_cloudwatch::config::Builder::from(config)
                .retry_config(retry_config.clone())
                .interceptor(counter.clone())
                .build(),
        );
        let logs = aws_sdk_cloudwatchlogs::Client::from_conf(
            aws_sdk_cloudwatchlogs::config::Builder::from(config)
                .retry_config(retry_config.clone())
                .interceptor(counter.clone())
                .build(),
        );
        let s3 = aws_sdk_s3::Client::from_conf(
            aws_sdk_s3::config::Builder::from(config)
                .force_path_style(target.uses_custom_endpoint())
                .retry_config(retry_config.clone())
                .interceptor(counter.clone())
                .build(),
        );
        let sagemaker = aws_sdk_sagemaker::Client::from_conf(
            aws_sdk_sagemaker::config::Builder::from(config)
                .retry_config(retry_config.clone())
                .interceptor(counter.clone())
                .build(),
        );
        let sts = aws_sdk_sts::Client::from_conf(
            aws_sdk_sts::config::Builder::from(config)
                .retry_config(retry_config.clone())
                .interceptor(counter.clone())
                .build(),
        );
        let sagemaker_runtime = aws_sdk_sagemakerruntime::Client::from_conf(
            aws_sdk_sagemakerruntime::config::Builder::from(config)
                .retry_config(retry_config)
                .interceptor(counter.clone())
                .build(),
        );
        AwsClients {
            sfn,
            cloudwatch,
            logs,
            s3,
            sagemaker,
            sagemaker_runtime,
            sts,
            counter,
            region: config.region().map(|r| r.to_string()),
        }
    }
}
