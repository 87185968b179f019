//! The moto server wrapper (scripts/moto/scones_moto.py) that scripts/with-moto.sh started
//! for the over-the-wire tests (SCONES_MOTO_ENDPOINT; missing or unreachable is a failure,
//! never a skip): the one convention every over-the-wire test of the project follows. The
//! tests of a binary share the server, so every name they create carries [`unique`].

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use aws_config::SdkConfig;
use scones_aws::AwsTarget;

/// The moto server of this run.
pub struct Moto {
    /// Its base URL.
    pub endpoint: String,
}

impl Moto {
    /// The server scripts/with-moto.sh started, checked to answer.
    pub fn connect() -> Moto {
        let endpoint = std::env::var("SCONES_MOTO_ENDPOINT").unwrap_or_else(|_| {
            panic!(
                "SCONES_MOTO_ENDPOINT is not set: run these tests through scripts/with-moto.sh \
                 (scripts/test.sh's `aws` suite does)"
            )
        });
        let host = endpoint.trim_start_matches("http://").trim_end_matches('/');
        assert!(
            answers(host),
            "moto at {endpoint} (SCONES_MOTO_ENDPOINT) does not answer"
        );
        Moto { endpoint }
    }

    /// The target the library code is given.
    pub fn target(&self) -> AwsTarget {
        AwsTarget {
            profile: None,
            region: Some("us-east-1".into()),
            endpoint_url: Some(self.endpoint.clone()),
        }
    }

    /// SDK configuration with fake credentials (the tests never read the environment's).
    pub async fn sdk_config(&self) -> SdkConfig {
        scones_aws::config_loader(&self.target())
            .credentials_provider(aws_sdk_s3::config::Credentials::new(
                "test", "test", None, None, "moto",
            ))
            .load()
            .await
    }
}

impl Moto {
    /// Arms a fault (scripts/moto/wire.py: `{"operation", "match", "count", "code",
    /// "message"}`) and checks the wrapper took it.
    #[allow(dead_code)] // each test binary compiles this module; not every one arms faults
    pub fn arm_fault(&self, spec: &serde_json::Value) {
        let host = self
            .endpoint
            .trim_start_matches("http://")
            .trim_end_matches('/');
        let body = spec.to_string();
        let mut stream = TcpStream::connect(host).unwrap();
        stream
            .write_all(
                format!(
                    "POST /scones-api/faults HTTP/1.0\r\nHost: 127.0.0.1\r\n\
                     Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
                    body.len()
                )
                .as_bytes(),
            )
            .unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).unwrap();
        assert!(
            answer.starts_with("HTTP/1.1 200") || answer.starts_with("HTTP/1.0 200"),
            "{answer}"
        );
    }
}

/// A suffix no other test of this run uses: the process id and a counter.
pub fn unique() -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    format!(
        "{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::SeqCst)
    )
}

fn answers(host: &str) -> bool {
    let Ok(mut stream) = TcpStream::connect(host) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    if stream
        .write_all(b"GET /moto-api/ HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
        .is_err()
    {
        return false;
    }
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).is_ok() && head.starts_with(b"HTTP/1.") && &head[9..12] == b"200"
}
