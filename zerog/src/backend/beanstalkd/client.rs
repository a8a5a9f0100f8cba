//! A small async client of the beanstalkd protocol (`protocol.txt` of beanstalkd 1.x):
//! the commands a job queue needs, one connection, one command at a time.
//!
//! ```no_run
//! # async fn demo() -> Result<(), zerog::backend::beanstalkd::BeanstalkdError> {
//! use std::time::Duration;
//! use zerog::backend::beanstalkd::Client;
//!
//! let mut client = Client::connect("127.0.0.1:11300").await?;
//! client.use_tube("emails").await?;
//! let id = client.put(1024, Duration::ZERO, Duration::from_secs(30), b"hello").await?;
//! client.watch("emails").await?;
//! if let Some(job) = client.reserve(Duration::ZERO).await? {
//!     assert_eq!(job.id, id);
//!     client.delete(job.id).await?;
//! }
//! # Ok(()) }
//! ```
//!
//! A connection whose command was interrupted (its future dropped, or timed out) is
//! out of step with the server: every later command fails with
//! [`BeanstalkdError::Desynchronized`], and the caller reconnects. Remember that the
//! server releases the jobs a connection had reserved when it closes.

use std::collections::BTreeMap;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

/// How long one command waits for the server's answer before the connection is given
/// up, besides the time a blocking reserve may wait by design.
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(5);

/// A failure talking to beanstalkd.
#[derive(Debug, thiserror::Error)]
pub enum BeanstalkdError {
    /// The connection failed.
    #[error("beanstalkd connection failed: {0}")]
    Io(#[from] std::io::Error),
    /// The server did not answer within [`COMMAND_TIMEOUT`].
    #[error("beanstalkd did not answer in time")]
    TimedOut,
    /// An earlier command was interrupted, so replies no longer match commands.
    #[error("the beanstalkd connection is out of step after an interrupted command")]
    Desynchronized,
    /// The server answered with an error (`OUT_OF_MEMORY`, `DRAINING`, `JOB_TOO_BIG`,
    /// `BAD_FORMAT`, ...) or something this client does not expect.
    #[error("beanstalkd answered `{reply}` to `{command}`")]
    Unexpected {
        /// The command sent, without its body.
        command: String,
        /// The server's reply line.
        reply: String,
    },
}

/// A job handed out by `reserve` or `peek`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job {
    /// The server's id of the job.
    pub id: u64,
    /// The job's body.
    pub body: Vec<u8>,
}

/// Which job [`Client::peek_next`] looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Peek {
    /// The next ready job.
    Ready,
    /// The delayed job that is due soonest.
    Delayed,
    /// The next buried job.
    Buried,
}

/// One connection to a beanstalkd server.
#[derive(Debug)]
pub struct Client {
    stream: BufReader<TcpStream>,
    in_flight: bool,
}

impl Client {
    /// Connects to `address` (`host:port`).
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: nothing is sent.
    pub async fn connect(address: &str) -> Result<Self, BeanstalkdError> {
        let stream = tokio::time::timeout(COMMAND_TIMEOUT, TcpStream::connect(address))
            .await
            .map_err(|_| BeanstalkdError::TimedOut)??;
        stream.set_nodelay(true)?;
        Ok(Client {
            stream: BufReader::new(stream),
            in_flight: false,
        })
    }

    /// Puts a job into the tube in use: ready after `delay`, to be finished within
    /// `ttr` of each reserve or touch (at least one second). Lower priorities go first.
    ///
    /// # Cancel safety
    ///
    /// Not cancel safe: the job may or may not have been put.
    pub async fn put(
        &mut self,
        priority: u32,
        delay: Duration,
        ttr: Duration,
        body: &[u8],
    ) -> Result<u64, BeanstalkdError> {
        let command = format!(
            "put {priority} {} {} {}",
            delay.as_secs(),
            ttr.as_secs().max(1),
            body.len()
        );
        let reply = self.command(&command, Some(body), COMMAND_TIMEOUT).await?;
        match words(&reply).as_slice() {
            ["INSERTED", id] => parse_id(&command, &reply, id),
            _ => Err(unexpected(&command, &reply)),
        }
    }

    /// Puts later jobs into `tube`.
    ///
    /// # Cancel safety
    ///
    /// Not cancel safe: the tube in use is unknown afterwards.
    pub async fn use_tube(&mut self, tube: &str) -> Result<(), BeanstalkdError> {
        let command = format!("use {tube}");
        let reply = self.command(&command, None, COMMAND_TIMEOUT).await?;
        expect(&command, &reply, "USING")
    }

    /// Adds `tube` to the tubes reserved from; the number watched now.
    ///
    /// # Cancel safety
    ///
    /// Not cancel safe: the watch list is unknown afterwards.
    pub async fn watch(&mut self, tube: &str) -> Result<u32, BeanstalkdError> {
        let command = format!("watch {tube}");
        let reply = self.command(&command, None, COMMAND_TIMEOUT).await?;
        watching(&command, &reply)
    }

    /// Removes `tube` from the tubes reserved from; `false` if it is the last one,
    /// which cannot be ignored.
    ///
    /// # Cancel safety
    ///
    /// Not cancel safe: the watch list is unknown afterwards.
    pub async fn ignore(&mut self, tube: &str) -> Result<bool, BeanstalkdError> {
        let command = format!("ignore {tube}");
        let reply = self.command(&command, None, COMMAND_TIMEOUT).await?;
        if reply == "NOT_IGNORED" {
            return Ok(false);
        }
        watching(&command, &reply).map(|_| true)
    }

    /// Reserves a ready job from the watched tubes, waiting up to `timeout` (whole
    /// seconds; zero returns at once). `None` if none came, or if the server warns
    /// that a job this connection holds is about to pass its TTR (`DEADLINE_SOON`).
    ///
    /// # Cancel safety
    ///
    /// Not cancel safe: a job reserved as the future is dropped stays reserved by this
    /// connection, which is out of step, until the connection closes or the TTR ends.
    pub async fn reserve(&mut self, timeout: Duration) -> Result<Option<Job>, BeanstalkdError> {
        let command = format!("reserve-with-timeout {}", timeout.as_secs());
        let reply = self
            .command(&command, None, COMMAND_TIMEOUT + timeout)
            .await?;
        match words(&reply).as_slice() {
            ["TIMED_OUT"] | ["DEADLINE_SOON"] => Ok(None),
            ["RESERVED", id, bytes] => self.job(&command, &reply, id, bytes).await.map(Some),
            _ => Err(unexpected(&command, &reply)),
        }
    }

    /// Deletes a job this connection reserved, or one that is ready, delayed or
    /// buried; `false` if there is no such job.
    ///
    /// # Cancel safety
    ///
    /// Not cancel safe: the job may or may not have been deleted.
    pub async fn delete(&mut self, id: u64) -> Result<bool, BeanstalkdError> {
        self.found(format!("delete {id}"), "DELETED").await
    }

    /// Puts a job this connection reserved back, ready after `delay`; `false` if this
    /// connection does not hold it.
    ///
    /// # Cancel safety
    ///
    /// Not cancel safe: the job may or may not have been released.
    pub async fn release(
        &mut self,
        id: u64,
        priority: u32,
        delay: Duration,
    ) -> Result<bool, BeanstalkdError> {
        self.found(
            format!("release {id} {priority} {}", delay.as_secs()),
            "RELEASED",
        )
        .await
    }

    /// Buries a job this connection reserved: it stays, out of the way, until kicked;
    /// `false` if this connection does not hold it.
    ///
    /// # Cancel safety
    ///
    /// Not cancel safe: the job may or may not have been buried.
    pub async fn bury(&mut self, id: u64, priority: u32) -> Result<bool, BeanstalkdError> {
        self.found(format!("bury {id} {priority}"), "BURIED").await
    }

    /// Restarts the TTR of a job this connection reserved; `false` if it does not
    /// hold it.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe in effect: a touch that was lost is one missed heartbeat, though the
    /// connection is out of step afterwards.
    pub async fn touch(&mut self, id: u64) -> Result<bool, BeanstalkdError> {
        self.found(format!("touch {id}"), "TOUCHED").await
    }

    /// Moves a buried or delayed job to the ready queue; `false` if there is none.
    ///
    /// # Cancel safety
    ///
    /// Not cancel safe: the job may or may not have been kicked.
    pub async fn kick_job(&mut self, id: u64) -> Result<bool, BeanstalkdError> {
        self.found(format!("kick-job {id}"), "KICKED").await
    }

    /// The job `id`, whatever its state.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe in effect: it only reads, though the connection is out of step
    /// afterwards.
    pub async fn peek(&mut self, id: u64) -> Result<Option<Job>, BeanstalkdError> {
        let command = format!("peek {id}");
        let reply = self.command(&command, None, COMMAND_TIMEOUT).await?;
        match words(&reply).as_slice() {
            ["NOT_FOUND"] => Ok(None),
            ["FOUND", id, bytes] => self.job(&command, &reply, id, bytes).await.map(Some),
            _ => Err(unexpected(&command, &reply)),
        }
    }

    /// The statistics of job `id` (`state`, `tube`, `reserves`, `releases`, `buries`,
    /// ...), or `None` if there is no such job.
    ///
    /// # Cancel safety
    ///
    /// As [`Client::peek`].
    pub async fn stats_job(
        &mut self,
        id: u64,
    ) -> Result<Option<BTreeMap<String, String>>, BeanstalkdError> {
        self.stats(format!("stats-job {id}")).await
    }

    /// The statistics of `tube` (`current-jobs-ready`, `current-jobs-buried`, ...), or
    /// `None` if the tube does not exist.
    ///
    /// # Cancel safety
    ///
    /// As [`Client::peek`].
    pub async fn stats_tube(
        &mut self,
        tube: &str,
    ) -> Result<Option<BTreeMap<String, String>>, BeanstalkdError> {
        self.stats(format!("stats-tube {tube}")).await
    }

    /// The job that `kind` names in the tube in use: the next ready one, the delayed
    /// one due soonest, or the next buried one.
    ///
    /// # Cancel safety
    ///
    /// As [`Client::peek`].
    pub async fn peek_next(&mut self, kind: Peek) -> Result<Option<Job>, BeanstalkdError> {
        let command = match kind {
            Peek::Ready => "peek-ready",
            Peek::Delayed => "peek-delayed",
            Peek::Buried => "peek-buried",
        };
        let reply = self.command(command, None, COMMAND_TIMEOUT).await?;
        match words(&reply).as_slice() {
            ["NOT_FOUND"] => Ok(None),
            ["FOUND", id, bytes] => self.job(command, &reply, id, bytes).await.map(Some),
            _ => Err(unexpected(command, &reply)),
        }
    }

    /// The names of every tube that exists.
    ///
    /// # Cancel safety
    ///
    /// As [`Client::peek`].
    pub async fn list_tubes(&mut self) -> Result<Vec<String>, BeanstalkdError> {
        let command = "list-tubes";
        let reply = self.command(command, None, COMMAND_TIMEOUT).await?;
        let bytes = match words(&reply).as_slice() {
            ["OK", bytes] => *bytes,
            _ => return Err(unexpected(command, &reply)),
        };
        let body = self.body(command, &reply, bytes).await?;
        // A YAML list: `- name` per line, after a `---` line.
        Ok(String::from_utf8_lossy(&body)
            .lines()
            .filter_map(|line| line.strip_prefix("- "))
            .map(|tube| tube.trim().to_owned())
            .collect())
    }

    /// A round trip: the name of the tube in use.
    ///
    /// # Cancel safety
    ///
    /// As [`Client::peek`].
    pub async fn ping(&mut self) -> Result<String, BeanstalkdError> {
        let command = "list-tube-used";
        let reply = self.command(command, None, COMMAND_TIMEOUT).await?;
        match words(&reply).as_slice() {
            ["USING", tube] => Ok((*tube).to_owned()),
            _ => Err(unexpected(command, &reply)),
        }
    }

    async fn found(&mut self, command: String, success: &str) -> Result<bool, BeanstalkdError> {
        let reply = self.command(&command, None, COMMAND_TIMEOUT).await?;
        if reply == success {
            Ok(true)
        } else if reply == "NOT_FOUND" {
            Ok(false)
        } else {
            Err(unexpected(&command, &reply))
        }
    }

    async fn stats(
        &mut self,
        command: String,
    ) -> Result<Option<BTreeMap<String, String>>, BeanstalkdError> {
        let reply = self.command(&command, None, COMMAND_TIMEOUT).await?;
        let bytes = match words(&reply).as_slice() {
            ["NOT_FOUND"] => return Ok(None),
            ["OK", bytes] => *bytes,
            _ => return Err(unexpected(&command, &reply)),
        };
        let body = self.body(&command, &reply, bytes).await?;
        // A flat YAML map: `key: value` per line, after a `---` line.
        let text = String::from_utf8_lossy(&body);
        let stats = text
            .lines()
            .filter_map(|line| line.split_once(": "))
            .map(|(key, value)| (key.trim().to_owned(), value.trim().to_owned()))
            .collect();
        Ok(Some(stats))
    }

    /// Sends one command (and its body) and reads the reply line.
    async fn command(
        &mut self,
        command: &str,
        body: Option<&[u8]>,
        timeout: Duration,
    ) -> Result<String, BeanstalkdError> {
        if self.in_flight {
            return Err(BeanstalkdError::Desynchronized);
        }
        self.in_flight = true;
        let exchange = async {
            let mut message =
                Vec::with_capacity(command.len() + 2 + body.map_or(0, |b| b.len() + 2));
            message.extend_from_slice(command.as_bytes());
            message.extend_from_slice(b"\r\n");
            if let Some(body) = body {
                message.extend_from_slice(body);
                message.extend_from_slice(b"\r\n");
            }
            self.stream.get_mut().write_all(&message).await?;
            let mut line = String::new();
            if self.stream.read_line(&mut line).await? == 0 {
                return Err(std::io::Error::from(std::io::ErrorKind::UnexpectedEof).into());
            }
            Ok::<_, BeanstalkdError>(line.trim_end_matches(['\r', '\n']).to_owned())
        };
        let reply = tokio::time::timeout(timeout, exchange)
            .await
            .map_err(|_| BeanstalkdError::TimedOut)??;
        // A reply with a body leaves the body to read; `job` and `stats` read it and
        // clear the flag themselves.
        let has_body = reply.starts_with("RESERVED ")
            || reply.starts_with("FOUND ")
            || reply.starts_with("OK ");
        self.in_flight = has_body;
        Ok(reply)
    }

    async fn job(
        &mut self,
        command: &str,
        reply: &str,
        id: &str,
        bytes: &str,
    ) -> Result<Job, BeanstalkdError> {
        let id = parse_id(command, reply, id)?;
        let body = self.body(command, reply, bytes).await?;
        Ok(Job { id, body })
    }

    /// Reads the body that follows a reply line, with its trailing CRLF.
    async fn body(
        &mut self,
        command: &str,
        reply: &str,
        bytes: &str,
    ) -> Result<Vec<u8>, BeanstalkdError> {
        let length: usize = bytes.parse().map_err(|_| unexpected(command, reply))?;
        let mut body = vec![0; length + 2];
        tokio::time::timeout(COMMAND_TIMEOUT, self.stream.read_exact(&mut body))
            .await
            .map_err(|_| BeanstalkdError::TimedOut)??;
        body.truncate(length);
        self.in_flight = false;
        Ok(body)
    }
}

fn words(reply: &str) -> Vec<&str> {
    reply.split(' ').collect()
}

fn unexpected(command: &str, reply: &str) -> BeanstalkdError {
    BeanstalkdError::Unexpected {
        command: command.to_owned(),
        reply: reply.to_owned(),
    }
}

fn expect(command: &str, reply: &str, word: &str) -> Result<(), BeanstalkdError> {
    if reply.split(' ').next() == Some(word) {
        Ok(())
    } else {
        Err(unexpected(command, reply))
    }
}

fn watching(command: &str, reply: &str) -> Result<u32, BeanstalkdError> {
    match words(reply).as_slice() {
        ["WATCHING", count] => count.parse().map_err(|_| unexpected(command, reply)),
        _ => Err(unexpected(command, reply)),
    }
}

fn parse_id(command: &str, reply: &str, id: &str) -> Result<u64, BeanstalkdError> {
    id.parse().map_err(|_| unexpected(command, reply))
}

#[cfg(test)]
mod tests;
