//! A fake of the Lambda Runtime API (`/2018-06-01/runtime/...`) on 127.0.0.1, so tests run
//! the real Lambda binaries as the Lambda service would: hand out events, collect each
//! response or function error exactly as posted on the wire.

use std::io::Read;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use serde_json::Value;

/// What the function posted back for one invocation (or at init).
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// A result, posted to `/invocation/<id>/response`.
    Response {
        /// The invocation.
        request_id: String,
        /// The body posted.
        body: Value,
    },
    /// A function error, posted to `/invocation/<id>/error`.
    Error {
        /// The invocation.
        request_id: String,
        /// The error document posted.
        body: Value,
    },
    /// An error at init, posted to `/init/error`.
    InitError {
        /// The error document posted.
        body: Value,
    },
}

/// A local stand-in for the Lambda Runtime API, serving events to a real Lambda binary.
pub struct FakeRuntimeApi {
    server: Arc<tiny_http::Server>,
    outcomes: Receiver<Outcome>,
    thread: Option<JoinHandle<()>>,
}

impl FakeRuntimeApi {
    /// Serves `events` in order to `/invocation/next`; further polls get 404 after a short
    /// wait, which the runtime treats as an error and retries (the test kills the process).
    pub fn start(events: Vec<Value>) -> std::io::Result<Self> {
        let server =
            Arc::new(tiny_http::Server::http("127.0.0.1:0").map_err(std::io::Error::other)?);
        let (tx, outcomes) = channel();
        let events = Arc::new(Mutex::new(events.into_iter().enumerate()));
        let thread = {
            let server = Arc::clone(&server);
            std::thread::spawn(move || serve(&server, &events, &tx))
        };
        Ok(FakeRuntimeApi {
            server,
            outcomes,
            thread: Some(thread),
        })
    }

    /// `host:port` for `AWS_LAMBDA_RUNTIME_API`.
    pub fn address(&self) -> String {
        self.server
            .server_addr()
            .to_ip()
            .map(|addr| addr.to_string())
            .unwrap_or_default()
    }

    /// The next outcome posted, waiting at most `timeout`.
    pub fn next_outcome(&self, timeout: Duration) -> Option<Outcome> {
        self.outcomes.recv_timeout(timeout).ok()
    }

    /// Starts a Lambda binary against this API with the standard Lambda environment plus
    /// `env`. Its stderr is inherited so failures show in the test output.
    pub fn spawn_function(&self, binary: &str, env: &[(&str, &str)]) -> std::io::Result<Child> {
        let mut command = Command::new(binary);
        command
            .env_clear()
            .env("AWS_LAMBDA_RUNTIME_API", self.address())
            .env("AWS_LAMBDA_FUNCTION_NAME", "scones-test")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_LAMBDA_LOG_STREAM_NAME", "test-stream")
            .env("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/scones-test")
            .env("AWS_REGION", "us-east-1")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        for (key, value) in env {
            command.env(key, value);
        }
        command.spawn()
    }
}

impl Drop for FakeRuntimeApi {
    fn drop(&mut self) {
        self.server.unblock();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

type Events = Mutex<std::iter::Enumerate<std::vec::IntoIter<Value>>>;

fn serve(server: &tiny_http::Server, events: &Events, outcomes: &Sender<Outcome>) {
    for mut request in server.incoming_requests() {
        let url = request.url().to_owned();
        let mut body = String::new();
        let _ = request.as_reader().read_to_string(&mut body);
        let parsed = serde_json::from_str(&body).unwrap_or(Value::String(body));
        let path = url.trim_start_matches("/2018-06-01/runtime/");
        let reply = if path == "invocation/next" {
            let next = events.lock().ok().and_then(|mut events| events.next());
            match next {
                Some((index, event)) => {
                    let request_id = format!("req-{index}");
                    let headers = [
                        ("Lambda-Runtime-Aws-Request-Id", request_id.as_str()),
                        ("Lambda-Runtime-Deadline-Ms", "9999999999999"),
                        (
                            "Lambda-Runtime-Invoked-Function-Arn",
                            "arn:aws:lambda:us-east-1:111111111111:function:scones-test",
                        ),
                        (
                            "Lambda-Runtime-Trace-Id",
                            "Root=1-00000000-000000000000000000000000",
                        ),
                        ("Content-Type", "application/json"),
                    ];
                    let mut response = tiny_http::Response::from_string(event.to_string());
                    for (name, value) in headers {
                        if let Ok(header) = tiny_http::Header::from_bytes(name, value) {
                            response.add_header(header);
                        }
                    }
                    let _ = request.respond(response);
                    continue;
                }
                None => {
                    std::thread::sleep(Duration::from_millis(200));
                    tiny_http::Response::from_string("no more events").with_status_code(404)
                }
            }
        } else if path == "init/error" {
            let _ = outcomes.send(Outcome::InitError { body: parsed });
            tiny_http::Response::from_string("{}").with_status_code(202)
        } else if let Some(rest) = path.strip_prefix("invocation/") {
            let (request_id, kind) = rest.split_once('/').unwrap_or((rest, ""));
            let request_id = request_id.to_owned();
            let outcome = match kind {
                "response" => Some(Outcome::Response {
                    request_id,
                    body: parsed,
                }),
                "error" => Some(Outcome::Error {
                    request_id,
                    body: parsed,
                }),
                _ => None,
            };
            if let Some(outcome) = outcome {
                let _ = outcomes.send(outcome);
            }
            tiny_http::Response::from_string("{}").with_status_code(202)
        } else {
            tiny_http::Response::from_string("unknown path").with_status_code(404)
        };
        let _ = request.respond(reply);
    }
}

/// Waits for a child to exit within `timeout`, returning its status, or kills it.
pub fn wait_or_kill(child: &mut Child, timeout: Duration) -> Option<std::process::ExitStatus> {
    let deadline = std::time::Instant::now() + timeout;
    while std::time::Instant::now() < deadline {
        if let Ok(Some(status)) = child.try_wait() {
            return Some(status);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
    None
}

/// Reads whatever the child wrote to stdout (after it exited or was killed).
pub fn stdout_of(child: &mut Child) -> String {
    let mut out = String::new();
    if let Some(stdout) = child.stdout.as_mut() {
        let _ = stdout.read_to_string(&mut out);
    }
    out
}
