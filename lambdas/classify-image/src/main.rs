//! Lambda `classify-image`: the second state of the scones workflow.

mod sagemaker_endpoint;
mod serving_version;

use scones_handlers::classify_image;
use scones_lambda_runtime::{env, exit_on_config_error, init_tracing, sdk_config, serve};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    init_tracing();
    let endpoint_name = exit_on_config_error(env::required("ENDPOINT_NAME"));
    let config = sdk_config().await;
    let serving = serving_version::ServingVersion::new(
        aws_sdk_sagemaker::Client::new(&config),
        endpoint_name.clone(),
    );
    let client = aws_sdk_sagemakerruntime::Client::new(&config);
    let endpoint = sagemaker_endpoint::SageMakerEndpoint::new(client, endpoint_name, serving);
    serve(|event| classify_image(&endpoint, event)).await
}
