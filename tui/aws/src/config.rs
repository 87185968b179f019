//! Building SDK configuration and clients the same way for every command.

use aws_config::{BehaviorVersion, ConfigLoader, Region, SdkConfig};

/// Where to talk to AWS. Every field is optional: unset ones come from the standard chain
/// (`AWS_PROFILE`, `AWS_REGION`, `~/.aws/config`, SSO, instance roles, `AWS_ENDPOINT_URL`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AwsTarget {
    /// Named profile (`--profile`).
    pub profile: Option<String>,
    /// Region (`--region`).
    pub region: Option<String>,
    /// Endpoint override for every service, e.g. `http://127.0.0.1:5000` for an emulator.
    pub endpoint_url: Option<String>,
}

impl AwsTarget {
    /// Whether requests go to an endpoint other than AWS's own, from this target or from
    /// `AWS_ENDPOINT_URL` / `AWS_ENDPOINT_URL_S3` (which aws-config honours by itself).
    /// Such endpoints (emulators, S3-compatible stores) need path-style bucket addressing.
    pub fn uses_custom_endpoint(&self) -> bool {
        self.endpoint_url.is_some()
            || ["AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"]
                .iter()
                .any(|name| std::env::var_os(name).is_some_and(|v| !v.is_empty()))
    }
}

/// Loads the SDK configuration for `target`; see [`config_loader`].
pub async fn sdk_config(target: &AwsTarget) -> SdkConfig {
    config_loader(target).load().await
}

/// The loader [`sdk_config`] uses, for callers that add to it (tests give fixed
/// credentials): `target` applied, and a rustls + ring HTTPS client (no aws-lc-sys C build;
/// the workspace turns off the SDK's default client).
pub fn config_loader(target: &AwsTarget) -> ConfigLoader {
    let http_client = aws_smithy_http_client::Builder::new()
        .tls_provider(aws_smithy_http_client::tls::Provider::Rustls(
            aws_smithy_http_client::tls::rustls_provider::CryptoMode::Ring,
        ))
        .build_https();
    let mut loader = aws_config::defaults(BehaviorVersion::latest()).http_client(http_client);
    if let Some(profile) = &target.profile {
        loader = loader.profile_name(profile);
    }
    if let Some(region) = &target.region {
        loader = loader.region(Region::new(region.clone()));
    }
    if let Some(endpoint) = &target.endpoint_url {
        loader = loader.endpoint_url(endpoint);
    }
    loader
}

/// An S3 client; path-style addressing when `target` uses a custom endpoint.
pub fn s3_client(config: &SdkConfig, target: &AwsTarget) -> aws_sdk_s3::Client {
    let s3_config = aws_sdk_s3::config::Builder::from(config)
        .force_path_style(target.uses_custom_endpoint())
        .build();
    aws_sdk_s3::Client::from_conf(s3_config)
}

/// A SageMaker client.
pub fn sagemaker_client(config: &SdkConfig) -> aws_sdk_sagemaker::Client {
    aws_sdk_sagemaker::Client::new(config)
}
