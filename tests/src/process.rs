//! Child processes for the multi-process tests: the test service binary started as
//! `serve`, `work` or `run`, killed when the test ends however it ends.

use std::io::{BufRead, BufReader};
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
        let mut command = command(binary, args, env);
        command.stdout(output());
        ChildProcess::start(name, command)
    }

    /// Starts a `serve` or `run` process of `binary` on `127.0.0.1:0` and waits, up
    /// to a minute, for the banner that names its address. Returns the process and
    /// its base URL, like `http://127.0.0.1:40123`. The server binds the port itself,
    /// so no other test can take it between the choice and the bind. The wait yields
    /// to the test's runtime, which may be running a proxy the server connects through.
    pub async fn spawn_server(
        name: &str,
        binary: &Path,
        args: &[&str],
        env: &[(&str, &str)],
    ) -> (Self, String) {
        let mut command = command(binary, args, env);
        command
            .env("ZEROG_BIND", "127.0.0.1:0")
            .stdout(Stdio::piped());
        let mut process = ChildProcess::start(name, command);
        let stdout = process.child.stdout.take().expect("stdout is piped");
        let (sender, receiver) = tokio::sync::oneshot::channel();
        // Reads the output to its end, so the child never blocks on a full pipe.
        std::thread::spawn(move || {
            let logs = logs_wanted();
            let mut sender = Some(sender);
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Some(url) = line.strip_prefix(BANNER)
                    && let Some(sender) = sender.take()
                {
                    let _ = sender.send(url.trim().to_owned());
                }
                if logs {
                    println!("{line}");
                }
            }
        });
        let url = tokio::time::timeout(Duration::from_secs(60), receiver)
            .await
            .ok()
            .and_then(Result::ok)
            .unwrap_or_else(|| panic!("{name} never said where it serves"));
        (process, url)
    }

    /// Starts `command` as the child called `name`.
    fn start(name: &str, mut command: Command) -> Self {
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

/// The start of the line a server prints when it listens, followed by its URL.
const BANNER: &str = "zerog is serving ";

/// Whether the children's output goes to the test's output: `ZEROG_TEST_CHILD_LOGS`.
fn logs_wanted() -> bool {
    std::env::var_os("ZEROG_TEST_CHILD_LOGS").is_some()
}

/// Where a child's output goes unless it is read.
fn output() -> Stdio {
    if logs_wanted() {
        Stdio::inherit()
    } else {
        Stdio::null()
    }
}

/// A command for `binary` with `args` and `env`, its stderr and log level set.
fn command(binary: &Path, args: &[&str], env: &[(&str, &str)]) -> Command {
    let mut command = Command::new(binary);
    command
        .args(args)
        .env("RUST_LOG", if logs_wanted() { "info" } else { "warn" })
        .stdin(Stdio::null())
        .stderr(output());
    for (key, value) in env {
        command.env(key, value);
    }
    command
}
