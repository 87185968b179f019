//! A moto server (scripts/moto/scones_moto.py) on a free 127.0.0.1 port for the
//! over-the-wire tests, stopped when dropped.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use aws_config::SdkConfig;
use scones_aws::AwsTarget;

pub struct Moto {
    child: Child,
    pub endpoint: String,
}

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

impl Moto {
    /// Starts the wrapper with the project venv's Python (`SCONES_MOTO_PYTHON` overrides);
    /// `scripts/moto/ensure-venv.sh` installs it.
    pub fn start() -> Moto {
        let python = std::env::var_os("SCONES_MOTO_PYTHON")
            .map(PathBuf::from)
            .unwrap_or_else(|| repo_root().join(".venv/bin/python"));
        assert!(
            python.exists(),
            "{} not found: run scripts/moto/ensure-venv.sh (installs moto[server] into .venv) \
             or set SCONES_MOTO_PYTHON",
            python.display()
        );
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let mut child = Command::new(&python)
            .arg(repo_root().join("scripts/moto/scones_moto.py"))
            .arg("--port")
            .arg(port.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start moto");
        let deadline = Instant::now() + Duration::from_secs(30);
        while !answers(port) {
            if let Ok(Some(status)) = child.try_wait() {
                let mut stderr = String::new();
                if let Some(mut pipe) = child.stderr.take() {
                    let _ = pipe.read_to_string(&mut stderr);
                }
                panic!("moto exited with {status}: {stderr}");
            }
            assert!(
                Instant::now() < deadline,
                "moto did not answer on port {port} within 30 s"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        Moto {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
        }
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

fn answers(port: u16) -> bool {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else {
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

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
