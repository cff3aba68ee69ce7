//! Starting and stopping the tool's processes, each with its settings in
//! environment variables and its log in the work folder.

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::Context;
use tokio::process::{Child, Command};

use crate::platform::{Platform, CLIENT_ID, DEPLOYMENT_ID};

/// Settings every tool process shares.
pub struct ToolConfig {
    pub binary: PathBuf,
    pub database_url: String,
    pub storage: PathBuf,
    pub catalogue: PathBuf,
    pub log_filter: String,
    pub work_dir: PathBuf,
}

impl ToolConfig {
    fn command(&self) -> Command {
        let mut command = Command::new(&self.binary);
        command
            .current_dir(&self.work_dir)
            .env("MICROCRED__DATABASE__URL", &self.database_url)
            .env("MICROCRED__STORAGE__PATH", &self.storage)
            .env("MICROCRED__CATALOGUE__SAMPLES_PATH", &self.catalogue)
            .env("MICROCRED__LOG__FILTER", &self.log_filter)
            .stdin(Stdio::null())
            .kill_on_drop(true);
        command
    }

    /// Register the generator as a platform with `microcred platform add`.
    pub async fn register(&self, platform: &Platform) -> anyhow::Result<()> {
        let output = self
            .command()
            .args(["platform", "add", "--issuer", platform.issuer(), "--client-id", CLIENT_ID])
            .args(["--deployment-id", DEPLOYMENT_ID])
            .args(["--auth-url", &platform.auth_url(), "--token-url", &platform.token_url()])
            .args(["--jwks-url", &platform.jwks_url()])
            .output()
            .await
            .with_context(|| format!("running {} platform add failed", self.binary.display()))?;
        if !output.status.success() {
            anyhow::bail!(
                "`microcred platform add` failed ({}): {}",
                output.status,
                String::from_utf8_lossy(&output.stderr).trim()
            );
        }
        Ok(())
    }

    /// Start `microcred serve` on a free loopback port and wait until `/healthz` returns 200.
    pub async fn start(&self, number: usize, http: &reqwest::Client) -> anyhow::Result<ToolProcess> {
        let port = free_port()?;
        let log_path = self.work_dir.join(format!("tool-{number}.log"));
        let log = std::fs::File::create(&log_path)?;
        let child = self
            .command()
            .arg("serve")
            .env("MICROCRED__SERVER__BIND", format!("127.0.0.1:{port}"))
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .with_context(|| format!("starting {} failed", self.binary.display()))?;
        let pid = child.id().ok_or_else(|| anyhow::anyhow!("the tool exited at once; see {}", log_path.display()))?;
        let mut process = ToolProcess { base: format!("http://127.0.0.1:{port}"), pid, child, log_path };
        process.wait_healthy(http).await?;
        Ok(process)
    }
}

/// A running `microcred serve`.
pub struct ToolProcess {
    pub base: String,
    pub pid: u32,
    child: Child,
    pub log_path: PathBuf,
}

impl ToolProcess {
    async fn wait_healthy(&mut self, http: &reqwest::Client) -> anyhow::Result<()> {
        let deadline = Instant::now() + Duration::from_secs(60);
        let url = format!("{}/healthz", self.base);
        loop {
            if let Some(status) = self.child.try_wait()? {
                anyhow::bail!("the tool exited with {status} while starting; see {}", self.log_path.display());
            }
            if let Ok(response) = http.get(&url).send().await {
                if response.status().is_success() {
                    return Ok(());
                }
            }
            if Instant::now() > deadline {
                anyhow::bail!("the tool did not respond at {url} within 60 s; see {}", self.log_path.display());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Return the exit status when the process has exited (a crash under load shows here).
    pub fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// Send SIGTERM, wait up to 10 s for the graceful shutdown, then kill.
    pub async fn stop(mut self) {
        if let Ok(pid) = i32::try_from(self.pid) {
            // SAFETY: signals our own child, whose pid we hold and have not reaped.
            unsafe {
                libc::kill(pid, libc::SIGTERM);
            }
        }
        if tokio::time::timeout(Duration::from_secs(10), self.child.wait()).await.is_err() {
            let _ = self.child.kill().await;
        }
    }
}

/// Find a free port on 127.0.0.1. Another program could take it before the
/// tool binds it; the start then fails with the tool's own message.
fn free_port() -> anyhow::Result<u16> {
    let listener = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))?;
    Ok(listener.local_addr()?.port())
}

/// Resolve `path` against the current folder, failing when it does not exist.
pub fn absolute(path: &Path, what: &str) -> anyhow::Result<PathBuf> {
    std::fs::canonicalize(path).with_context(|| format!("the {what} {} does not exist", path.display()))
}
