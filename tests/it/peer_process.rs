//! The independent peer platform as a child process: the PyPI package
//! lti1p3platform behind `tests/peer/peer_platform.py`, started with the
//! interpreter that `tests/peer/setup.sh` installs. Both peer test modules
//! start it through [`PeerProcess::start`].

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{mpsc, Arc, Mutex};
use std::thread;
use std::time::Duration;

use microcred::platforms::PlatformInput;
use serde::Deserialize;

/// Time the peer may take to start and print its ready line. The limit is
/// generous so that a loaded machine does not fail the test, because the
/// peer normally starts within a few seconds.
const PEER_START_TIMEOUT: Duration = Duration::from_secs(30);

/// The JSON line the peer prints on stdout once it listens.
#[derive(Debug, Deserialize)]
pub struct PeerEndpoints {
    pub issuer: String,
    pub client_id: String,
    pub deployment_id: String,
    pub auth_url: String,
    pub token_url: String,
    pub jwks_url: String,
    pub base_url: String,
}

/// A running peer platform, killed when the value is dropped.
pub struct PeerProcess {
    child: Child,
    /// Kept open because the peer stops when its stdin pipe closes.
    _stdin: ChildStdin,
    /// Everything the peer logged to stderr so far, for failure messages.
    log: Arc<Mutex<String>>,
    pub endpoints: PeerEndpoints,
}

impl Drop for PeerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn peer_python() -> PathBuf {
    match std::env::var_os("MICROCRED_PEER_PYTHON") {
        Some(path) => PathBuf::from(path),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".venv-peer/bin/python"),
    }
}

impl PeerProcess {
    /// Start the peer for the tool at `tool_base`, registered there under
    /// `client_id` and `deployment_id`, and wait for its ready line.
    ///
    /// # Panics
    /// If the interpreter is missing, the process cannot start, or it prints
    /// no valid ready line within [`PEER_START_TIMEOUT`].
    pub fn start(tool_base: &str, client_id: &str, deployment_id: &str) -> PeerProcess {
        let python = peer_python();
        assert!(
            python.exists(),
            "the peer platform's Python {} does not exist; run scripts/test, which installs it \
             (or bash tests/peer/setup.sh), or set MICROCRED_PEER_PYTHON",
            python.display()
        );
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/peer/peer_platform.py");

        let mut child = Command::new(&python)
            .arg(&script)
            .args(["--port", "0", "--tool-base-url", tool_base])
            .args(["--client-id", client_id, "--deployment-id", deployment_id])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|error| panic!("starting {} {} failed: {error}", python.display(), script.display()));
        let stdin = child.stdin.take().expect("the peer's stdin is piped");
        let stdout = child.stdout.take().expect("the peer's stdout is piped");
        let stderr = child.stderr.take().expect("the peer's stderr is piped");

        // The peer logs every request, so stderr is read continuously to keep
        // the pipe from filling up and blocking it.
        let log = Arc::new(Mutex::new(String::new()));
        let log_writer = Arc::clone(&log);
        thread::spawn(move || {
            let mut stderr = BufReader::new(stderr);
            let mut line = String::new();
            while matches!(stderr.read_line(&mut line), Ok(read) if read > 0) {
                log_writer.lock().expect("the peer log lock").push_str(&line);
                line.clear();
            }
        });

        let (ready_sender, ready_receiver) = mpsc::channel();
        thread::spawn(move || {
            let mut stdout = BufReader::new(stdout);
            let mut line = String::new();
            let result = stdout.read_line(&mut line).map(|_| line);
            let _ = ready_sender.send(result);
            // Drain anything else, so the peer never blocks on a full pipe.
            let _ = std::io::copy(&mut stdout, &mut std::io::sink());
        });

        let logged = || log.lock().expect("the peer log lock").clone();
        let line = match ready_receiver.recv_timeout(PEER_START_TIMEOUT) {
            Ok(Ok(line)) if !line.trim().is_empty() => line,
            Ok(Ok(_)) => panic!("the peer platform exited before printing its ready line. Its log:\n{}", logged()),
            Ok(Err(error)) => panic!("reading the peer platform's stdout failed: {error}. Its log:\n{}", logged()),
            Err(_) => panic!(
                "the peer platform printed no ready line within {PEER_START_TIMEOUT:?}. Its log:\n{}",
                logged()
            ),
        };
        let endpoints = serde_json::from_str(&line)
            .unwrap_or_else(|error| panic!("the peer's ready line {line:?} is not the expected JSON: {error}"));
        PeerProcess { child, _stdin: stdin, log, endpoints }
    }

    /// Return what the peer logged so far.
    pub fn log(&self) -> String {
        self.log.lock().expect("the peer log lock").clone()
    }

    /// Return the registration an LMS admin would copy from the peer into microcred.
    pub fn registration(&self) -> PlatformInput {
        PlatformInput {
            issuer: self.endpoints.issuer.clone(),
            client_id: self.endpoints.client_id.clone(),
            deployment_ids: vec![self.endpoints.deployment_id.clone()],
            auth_url: self.endpoints.auth_url.clone(),
            token_url: self.endpoints.token_url.clone(),
            jwks_url: self.endpoints.jwks_url.clone(),
            token_audience: None,
            manages_registrations: false,
        }
    }

    /// Return the peer URL that starts a launch with these query parameters.
    pub fn launch_url(&self, params: &[(&str, &str)]) -> String {
        let mut url = url::Url::parse(&format!("{}/launch", self.endpoints.base_url)).expect("the peer's base URL");
        url.query_pairs_mut().extend_pairs(params);
        url.to_string()
    }
}
