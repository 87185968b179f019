//! `scones serve` (hidden): the local stack's model answering inference requests over
//! stdin/stdout, one at a time. It is what the AWS emulator's `InvokeEndpoint` calls
//! (`scripts/moto/endpoint.py`), so AWS mode is tested against real predictions of the model
//! the local stack serves, not canned answers.
//!
//! The framing is the simplest that carries any bytes: each request is a 4-byte
//! little-endian length and that many body bytes (a PNG, as SageMaker's
//! `application/x-image`); each answer is one JSON line, `{"probabilities": [p_bicycle,
//! p_motorcycle], "version": V}` or `{"error": "...", "client_error": true|false}` (a bad
//! input is the caller's fault: SageMaker answers it as a 4XX from the container). End of
//! input ends the command.

use std::io::{BufWriter, Read, Write};
use std::process::ExitCode;

use clap::Args;
use scones_local::Home;
use scones_local::endpoint::{PredictError, load_served};

use super::GlobalArgs;

/// Largest request body taken: SageMaker's own InvokeEndpoint payload limit (6 MB).
const MAX_BODY: u32 = 6 * 1024 * 1024;

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// The model version to serve (default: the one the home serves now).
    #[arg(long = "model", value_name = "VERSION")]
    pub model: Option<String>,
}

pub fn run(global: &GlobalArgs, args: ServeArgs) -> anyhow::Result<ExitCode> {
    let home = Home::locate(global.home.as_deref())?;
    let bucket = home.bucket();
    let version = match args.model {
        Some(v) => v,
        None => scones_local::models::serving(&bucket)?.ok_or_else(|| {
            anyhow::anyhow!(
                "no model in {}: run `scones train --local` first",
                home.root().display()
            )
        })?,
    };
    let served = load_served(&bucket, &version)?;
    let mut input = std::io::stdin().lock();
    let mut output = BufWriter::new(std::io::stdout().lock());
    loop {
        let mut length = [0u8; 4];
        match input.read_exact(&mut length) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => break,
            Err(e) => return Err(e.into()),
        }
        let length = u32::from_le_bytes(length);
        anyhow::ensure!(
            length <= MAX_BODY,
            "a request of {length} bytes: more than the {MAX_BODY} an endpoint takes"
        );
        let mut body = vec![0u8; length as usize];
        input.read_exact(&mut body)?;
        let answer = match served.predictor.predict_png(&body) {
            Ok(p) => serde_json::json!({"probabilities": p, "version": served.version}),
            Err(e) => serde_json::json!({
                "error": e.to_string(),
                "client_error": matches!(e, PredictError::BadInput(_)),
            }),
        };
        serde_json::to_writer(&mut output, &answer)?;
        output.write_all(b"\n")?;
        output.flush()?;
    }
    Ok(ExitCode::SUCCESS)
}
