//! Lambda `serialize-image-data`: the first state of the scones workflow.

mod s3_store;

use scones_handlers::serialize_image_data;
use scones_lambda_runtime::{init_tracing, sdk_config, serve};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    init_tracing();
    let store = s3_store::S3Store::new(aws_sdk_s3::Client::new(&sdk_config().await));
    serve(|event| serialize_image_data(&store, event)).await
}
