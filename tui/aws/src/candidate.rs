//! The promotion gate on AWS: a version is measured through a candidate endpoint.
//!
//! The gate compares the candidate with the served model on the same images (paired:
//! `scones_workflow::models::gate`), so both must answer every image of `test/` and of the
//! production validation set (the held-out share of reviewed images). The served model
//! answers on the stack's endpoint; the candidate on a temporary endpoint made from its
//! artefact (one instance of the endpoint's type, the serving model's role and image),
//! deleted again whatever happens. That costs the endpoint's creation (SageMaker takes
//! minutes) and a few minutes of one instance (an ml.m5.large is about $0.12 an hour at
//! on-demand prices in us-east-1), and sends `test/` and the production set through both.
//! A batch transform job would not need an endpoint but writes answers to S3 to be read
//! back, takes as long to start, and would not answer as the endpoint does.
//!
//! The measures are kept (`models/measures/<version>.json`) for `scones models --aws`.

use std::time::{Duration, Instant};

use aws_sdk_sagemaker::types::{
    ContainerDefinition, EndpointStatus, ProductionVariant, ProductionVariantInstanceType,
};
use chrono::{DateTime, Utc};
use scones_workflow::models::{GateReport, Paired, SetMeasures, gate};
use scones_workflow::quality::Labelled;
use scones_workflow::review::{Use, use_of};
use serde::{Deserialize, Serialize};

use crate::clients::AwsClients;
use crate::error::AwsError;
use crate::evaluation::{EndpointPrediction, endpoint_predictions, keyed_predictions};
use crate::resources::CandidateResources;

/// Where measures go, one object per version.
pub const MEASURES_PREFIX: &str = "models/measures/";

/// How long the candidate endpoint may take to come up.
const READY_WITHIN: Duration = Duration::from_secs(30 * 60);

/// A version's measures, as kept.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Measures {
    /// The version.
    pub version: String,
    /// When measured.
    pub at: DateTime<Utc>,
    /// The threshold the measures were taken at.
    pub threshold: f64,
    /// On `test/`.
    pub test: Option<SetMeasures>,
    /// On the production validation set as it was.
    pub production: Option<SetMeasures>,
}

/// The gate's findings, and both models' measures.
#[derive(Debug, Clone, PartialEq)]
pub struct Measured {
    /// The gate.
    pub gate: GateReport,
    /// The candidate's measures.
    pub candidate: Measures,
    /// The served model's, on the same images.
    pub serving: Measures,
}

/// Measures `version` (artefact `model_data_url`) against the model `serving` serves on
/// `endpoint`, through a candidate endpoint made from `spec`; `progress` says what is going
/// on. The candidate endpoint, configuration and model are deleted before it returns.
#[allow(clippy::too_many_arguments)] // the two models, where they are, and the threshold
pub async fn measure(
    clients: &AwsClients,
    bucket: &str,
    spec: &CandidateResources,
    version: &str,
    model_data_url: &str,
    serving: (&str, &str),
    threshold: f64,
    progress: &(dyn Fn(&str) + Send + Sync),
) -> Result<Measured, AwsError> {
    let name = spec.name_prefix.clone();
    progress(&format!(
        "creating the candidate endpoint {name} for {version}"
    ));
    let made = create(clients, spec, &name, model_data_url).await;
    let measured = match made {
        Ok(()) => {
            compare(
                clients, bucket, &name, version, serving, threshold, progress,
            )
            .await
        }
        Err(e) => Err(e),
    };
    progress(&format!("deleting the candidate endpoint {name}"));
    delete(clients, &name).await;
    let measured = measured?;
    for m in [&measured.candidate, &measured.serving] {
        if let Err(e) = save(clients, bucket, m).await {
            tracing::warn!(version = %m.version, error = %e, "measures not kept");
        }
    }
    Ok(measured)
}

async fn create(
    clients: &AwsClients,
    spec: &CandidateResources,
    name: &str,
    model_data_url: &str,
) -> Result<(), AwsError> {
    let sm = &clients.sagemaker;
    // One at a time: a candidate left by an interrupted run is in the way, and says so.
    if let Ok(existing) = sm.describe_endpoint().endpoint_name(name).send().await {
        return Err(AwsError::protocol(
            "CreateEndpoint",
            format!(
                "the candidate endpoint {name} exists already ({}): another promotion is \
                 measuring, or one was interrupted; delete it (aws sagemaker delete-endpoint \
                 --endpoint-name {name}) and its configuration and model of the same name",
                existing
                    .endpoint_status()
                    .map_or("unknown status", |s| s.as_str())
            ),
        ));
    }
    sm.create_model()
        .model_name(name)
        .execution_role_arn(&spec.role_arn)
        .enable_network_isolation(true)
        .primary_container(
            ContainerDefinition::builder()
                .image(&spec.image_uri)
                .model_data_url(model_data_url)
                .build(),
        )
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("CreateModel", e))?;
    sm.create_endpoint_config()
        .endpoint_config_name(name)
        .production_variants(
            ProductionVariant::builder()
                .variant_name(crate::metrics::DEFAULT_VARIANT)
                .model_name(name)
                .instance_type(ProductionVariantInstanceType::from(
                    spec.instance_type.as_str(),
                ))
                .initial_instance_count(1)
                .build(),
        )
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("CreateEndpointConfig", e))?;
    sm.create_endpoint()
        .endpoint_name(name)
        .endpoint_config_name(name)
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("CreateEndpoint", e))?;
    let started = Instant::now();
    let mut wait = Duration::from_secs(1);
    loop {
        let out = sm
            .describe_endpoint()
            .endpoint_name(name)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("DescribeEndpoint", e))?;
        match out.endpoint_status() {
            Some(EndpointStatus::InService) => return Ok(()),
            Some(EndpointStatus::Failed) => {
                return Err(AwsError::protocol(
                    "CreateEndpoint",
                    format!(
                        "the candidate endpoint {name} failed: {}",
                        out.failure_reason().unwrap_or("no reason given")
                    ),
                ));
            }
            _ if started.elapsed() > READY_WITHIN => {
                return Err(AwsError::protocol(
                    "CreateEndpoint",
                    format!("the candidate endpoint {name} was not InService within 30 minutes"),
                ));
            }
            _ => {
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(Duration::from_secs(30));
            }
        }
    }
}

/// Deletes the candidate endpoint, configuration and model (each may be missing).
async fn delete(clients: &AwsClients, name: &str) {
    let sm = &clients.sagemaker;
    let results = [
        sm.delete_endpoint()
            .endpoint_name(name)
            .send()
            .await
            .err()
            .map(|e| AwsError::from_sdk("DeleteEndpoint", e)),
        sm.delete_endpoint_config()
            .endpoint_config_name(name)
            .send()
            .await
            .err()
            .map(|e| AwsError::from_sdk("DeleteEndpointConfig", e)),
        sm.delete_model()
            .model_name(name)
            .send()
            .await
            .err()
            .map(|e| AwsError::from_sdk("DeleteModel", e)),
    ];
    for e in results.into_iter().flatten() {
        if !e.is_not_found() && e.code() != Some("ValidationException") {
            tracing::error!(%name, error = %e, "the candidate endpoint is left behind: delete it");
        }
    }
}

#[allow(clippy::too_many_arguments)] // as `measure`
async fn compare(
    clients: &AwsClients,
    bucket: &str,
    candidate: &str,
    version: &str,
    (serving_version, serving_endpoint): (&str, &str),
    threshold: f64,
    progress: &(dyn Fn(&str) + Send + Sync),
) -> Result<Measured, AwsError> {
    let quiet = |_: usize, _: usize| {};
    progress("test/ through both endpoints");
    let test_served = endpoint_predictions(clients, bucket, serving_endpoint, quiet).await?;
    let test_candidate = endpoint_predictions(clients, bucket, candidate, quiet).await?;
    let (labels, _) = crate::review::LabelReader::default()
        .refresh(&clients.s3, bucket)
        .await?;
    let mut production: Vec<(String, scones_workflow::class::Class)> = labels
        .current()
        .filter(|r| use_of(&r.key) == Use::Validate)
        .filter_map(|r| Some((r.key.clone(), r.label.class()?)))
        .collect();
    production.sort();
    progress(&format!(
        "the production validation set ({} reviewed images) through both",
        production.len()
    ));
    let prod_served =
        keyed_predictions(clients, bucket, serving_endpoint, production.clone(), quiet).await?;
    let prod_candidate = keyed_predictions(clients, bucket, candidate, production, quiet).await?;
    let paired = |served: &[EndpointPrediction], cand: &[EndpointPrediction]| -> Vec<Paired> {
        served
            .iter()
            .zip(cand)
            .filter(|(a, b)| a.key == b.key)
            .map(|(a, b)| Paired {
                label: a.labelled.label,
                serving: a.labelled.scores,
                candidate: b.labelled.scores,
            })
            .collect()
    };
    let report = gate(
        &paired(&test_served, &test_candidate),
        &paired(&prod_served, &prod_candidate),
    );
    let at = Utc::now();
    let measures = |version: &str, test: &[EndpointPrediction], prod: &[EndpointPrediction]| {
        let labelled =
            |p: &[EndpointPrediction]| -> Vec<Labelled> { p.iter().map(|p| p.labelled).collect() };
        Measures {
            version: version.to_owned(),
            at,
            threshold,
            test: SetMeasures::of(&labelled(test), threshold),
            production: SetMeasures::of(&labelled(prod), threshold),
        }
    };
    Ok(Measured {
        gate: report,
        candidate: measures(version, &test_candidate, &prod_candidate),
        serving: measures(serving_version, &test_served, &prod_served),
    })
}

/// Keeps a version's measures.
async fn save(clients: &AwsClients, bucket: &str, m: &Measures) -> Result<(), AwsError> {
    crate::bucket::put_json(
        &clients.s3,
        bucket,
        &measures_key(&m.version),
        m,
        "the measures",
        crate::bucket::Put::Replace,
    )
    .await
}

fn measures_key(version: &str) -> String {
    format!("{MEASURES_PREFIX}{version}.json")
}

/// A version's kept measures (`None`: never measured, or unreadable).
pub async fn load(s3: &aws_sdk_s3::Client, bucket: &str, version: &str) -> Option<Measures> {
    let key = measures_key(version);
    match crate::capture::get_object_at_most(s3, bucket, &key, crate::bucket::RECORD_MAX_BYTES)
        .await
    {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map_err(|e| tracing::warn!(%key, error = %e, "measures unreadable"))
            .ok(),
        Err(e) if e.is_not_found() => None,
        Err(e) => {
            tracing::warn!(%key, error = %e, "measures unread");
            None
        }
    }
}
