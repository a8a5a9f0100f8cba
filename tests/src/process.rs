//! Child processes for the multi-process tests: the test service binary started as
//! `serve`, `work` or `run`, killed when the test ends however it ends.

use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, ExitStatus, Stdio};
use std::time::Duration;

/// A child process that is killed (SIGKILL) when dropped, so a failing test leaves
/// nothing running.
pub struct ChildProcess {
    child: std::process::Child,
    /// What the test calls it, for messages.
    pub name: String,
}

impl ChildProcess {
    /// Starts `binary` with `args` and `env`; its output goes to the test's output
    /// when `ZEROG_TEST_CHILD_LOGS` is set, and nowhere otherwise.
    pub fn spawn(name: &str, binary: &Path, args: &[&str], env: &[(&str, &str)]) -> Self {
        let logs = std::env::var_os("ZEROG_TEST_CHILD_LOGS").is_some();
        let output = || {
            if logs {
                Stdio::inherit()
            } else {
                Stdio::null()
            }
        };
        let mut command = Command::new(binary);
        command
            .args(args)
            .env("RUST_LOG", if logs { "info" } else { "warn" })
            .stdin(Stdio::null())
            .stdout(output())
            .stderr(output());
        for (key, value) in env {
            command.env(key, value);
        }
        let child = command
            .spawn()
            .unwrap_or_else(|error| panic!("starting {name}: {error}"));
        ChildProcess {
            child,
            name: name.to_owned(),
        }
    }

    /// The child's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends `signal` (like `KILL`, `TERM`, `STOP`, `CONT`) to the child.
    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args([format!("-{signal}"), self.pid().to_string()])
            .status()
            .expect("`kill` runs");
        assert!(status.success(), "kill -{signal} {} failed", self.name);
    }

    /// Kills the child with SIGKILL and reaps it.
    pub fn kill9(&mut self) {
        self.signal("KILL");
        let _ = self.child.wait();
    }

    /// Waits for the child to exit by itself, for up to `deadline`.
    pub async fn wait_exit(&mut self, deadline: Duration) -> ExitStatus {
        let give_up = tokio::time::Instant::now() + deadline;
        loop {
            if let Some(status) = self.child.try_wait().expect("the child can be waited on") {
                return status;
            }
            assert!(
                tokio::time::Instant::now() < give_up,
                "waited {deadline:?}, but {} never exited",
                self.name
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Whether the child is still running.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for ChildProcess {
    fn drop(&mut self) {
        if self.is_running() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// A port on 127.0.0.1 that was free a moment ago.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .expect("a free port")
}
