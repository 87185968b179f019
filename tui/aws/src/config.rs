//! Building SDK configuration and clients the same way for every command.

use std::time::Duration;

use aws_config::profile::ProfileFileCredentialsProvider;
use aws_config::provider_config::ProviderConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, ConfigLoader, Region, SdkConfig};
use aws_smithy_types::error::display::DisplayErrorContext;

/// How long any call may take, so a hung or unreachable service is an error in seconds, not
/// a request pending for minutes: 5 s to connect, 15 s for one attempt to answer, 40 s for a
/// call with its retries. The calls scones makes are small (the largest are capture files of
/// a few MB); a training job is followed by polling, not by one long call.
pub const TIMEOUTS: Timeouts = Timeouts {
    connect: Duration::from_secs(5),
    attempt: Duration::from_secs(15),
    operation: Duration::from_secs(40),
};

/// The timeouts of every AWS call ([`TIMEOUTS`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// To open a connection.
    pub connect: Duration,
    /// For one attempt to be answered.
    pub attempt: Duration,
    /// For the call, retries included.
    pub operation: Duration,
}

impl Timeouts {
    /// As the SDK's configuration.
    pub fn sdk(&self) -> TimeoutConfig {
        TimeoutConfig::builder()
            .connect_timeout(self.connect)
            .operation_attempt_timeout(self.attempt)
            .operation_timeout(self.operation)
            .build()
    }
}

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

    /// Where the credentials come from, for the header: the credential chain's first source
    /// that is set (`--profile`, then the environment's keys, `AWS_PROFILE`, a web identity
    /// token, a container role), else the default profile or the instance role.
    pub fn credentials_source(&self) -> String {
        self.credentials_source_in(|name| std::env::var(name).ok())
    }

    fn credentials_source_in(&self, env: impl Fn(&str) -> Option<String>) -> String {
        let value = |name: &str| env(name).filter(|v| !v.is_empty());
        let set = |name: &str| value(name).is_some();
        if let Some(profile) = &self.profile {
            format!("profile {profile}")
        } else if set("AWS_ACCESS_KEY_ID") {
            "env keys".to_owned()
        } else if let Some(profile) = value("AWS_PROFILE") {
            format!("profile {profile}")
        } else if set("AWS_WEB_IDENTITY_TOKEN_FILE") {
            "web identity".to_owned()
        } else if set("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI")
            || set("AWS_CONTAINER_CREDENTIALS_FULL_URI")
        {
            "container role".to_owned()
        } else {
            "default profile or instance role".to_owned()
        }
    }
}

/// A `--profile` that gives no credentials.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "profile {profile:?} gives no credentials ({message}): check that it is defined in \
     ~/.aws/config or ~/.aws/credentials (or AWS_CONFIG_FILE / AWS_SHARED_CREDENTIALS_FILE), \
     or log in with `aws sso login --profile {profile}`"
)]
pub struct ProfileError {
    /// The profile.
    pub profile: String,
    /// What the credential provider said.
    pub message: String,
}

/// With `--profile`, asks its credentials once, so a profile that does not exist (or whose
/// SSO session expired) is one error naming it, before anything else is tried.
pub async fn check_profile(config: &SdkConfig, target: &AwsTarget) -> Result<(), ProfileError> {
    use aws_credential_types::provider::ProvideCredentials as _;
    let (Some(profile), Some(provider)) = (&target.profile, config.credentials_provider()) else {
        return Ok(());
    };
    provider
        .provide_credentials()
        .await
        .map(|_| ())
        .map_err(|e| ProfileError {
            profile: profile.clone(),
            message: DisplayErrorContext(&e).to_string(),
        })
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
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .http_client(http_client.clone())
        .timeout_config(TIMEOUTS.sdk());
    if let Some(profile) = &target.profile {
        // The profile's credentials, not the default chain's: that chain asks the
        // environment first, so AWS_ACCESS_KEY_ID would silently win over --profile.
        let provider_config = ProviderConfig::default()
            .with_http_client(http_client)
            .with_region(target.region.clone().map(Region::new));
        loader = loader.profile_name(profile).credentials_provider(
            ProfileFileCredentialsProvider::builder()
                .configure(&provider_config)
                .profile_name(profile)
                .build(),
        );
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_credentials_source_follows_the_chain_and_profile_comes_first() {
        let env = |vars: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                vars.iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| (*v).to_owned())
            }
        };
        let keys_and_profile = env(&[("AWS_ACCESS_KEY_ID", "AKIA"), ("AWS_PROFILE", "dev")]);
        let flagged = AwsTarget {
            profile: Some("prod".into()),
            ..AwsTarget::default()
        };
        assert_eq!(
            flagged.credentials_source_in(keys_and_profile),
            "profile prod"
        );
        let plain = AwsTarget::default();
        assert_eq!(plain.credentials_source_in(keys_and_profile), "env keys");
        assert_eq!(
            plain.credentials_source_in(env(&[("AWS_PROFILE", "dev")])),
            "profile dev"
        );
        assert_eq!(
            plain.credentials_source_in(env(&[("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "/v2")])),
            "container role"
        );
        assert_eq!(
            plain.credentials_source_in(env(&[("AWS_ACCESS_KEY_ID", "")])),
            "default profile or instance role"
        );
    }
}
