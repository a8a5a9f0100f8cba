//! A beanstalkd connection that reconnects: after a failure or an interrupted command
//! the next call opens a new connection and restores the tube in use and the watch
//! list. Jobs the old connection had reserved went back to the server when it closed.

use std::collections::BTreeSet;
use std::time::Duration;

use super::client::{BeanstalkdError, Client, Job};

#[derive(Debug)]
pub(super) struct Connection {
    address: String,
    client: Option<Client>,
    used: Option<String>,
    watched: BTreeSet<String>,
}

/// Runs one client call, dropping the connection if it failed so that the next call
/// reconnects.
macro_rules! call {
    ($self:ident, $client:ident => $call:expr) => {{
        let $client = $self.client().await?;
        let result = $call.await;
        if result.is_err() {
            $self.client = None;
        }
        result
    }};
}

impl Connection {
    pub(super) fn new(address: &str) -> Self {
        Connection {
            address: address.to_owned(),
            client: None,
            used: None,
            watched: BTreeSet::new(),
        }
    }

    async fn client(&mut self) -> Result<&mut Client, BeanstalkdError> {
        if self.client.is_none() {
            let mut client = Client::connect(&self.address).await?;
            if let Some(tube) = &self.used {
                client.use_tube(tube).await?;
            }
            for tube in &self.watched {
                client.watch(tube).await?;
            }
            if !self.watched.is_empty() && !self.watched.contains("default") {
                client.ignore("default").await?;
            }
            self.client = Some(client);
        }
        Ok(self.client.as_mut().expect("connected just now"))
    }

    pub(super) async fn put(
        &mut self,
        tube: &str,
        priority: u32,
        delay: Duration,
        ttr: Duration,
        body: &[u8],
    ) -> Result<u64, BeanstalkdError> {
        if self.used.as_deref() != Some(tube) {
            call!(self, client => client.use_tube(tube))?;
            self.used = Some(tube.to_owned());
        }
        call!(self, client => client.put(priority, delay, ttr, body))
    }

    /// Watches exactly `tubes` (which must not be empty).
    pub(super) async fn watch_only(
        &mut self,
        tubes: &BTreeSet<String>,
    ) -> Result<(), BeanstalkdError> {
        if &self.watched == tubes && self.client.is_some() {
            return Ok(());
        }
        if self.client.is_some() {
            for tube in tubes.difference(&self.watched.clone()) {
                call!(self, client => client.watch(tube))?;
            }
            let mut stale: Vec<String> = self.watched.difference(tubes).cloned().collect();
            if self.watched.is_empty() && !tubes.contains("default") {
                stale.push("default".to_owned());
            }
            for tube in stale {
                call!(self, client => client.ignore(&tube))?;
            }
            self.watched = tubes.clone();
        } else {
            // A new connection applies the whole list as it connects.
            self.watched = tubes.clone();
            self.client().await?;
        }
        Ok(())
    }

    pub(super) async fn reserve_now(&mut self) -> Result<Option<Job>, BeanstalkdError> {
        call!(self, client => client.reserve(Duration::ZERO))
    }

    pub(super) async fn delete(&mut self, id: u64) -> Result<bool, BeanstalkdError> {
        call!(self, client => client.delete(id))
    }

    pub(super) async fn release(
        &mut self,
        id: u64,
        priority: u32,
        delay: Duration,
    ) -> Result<bool, BeanstalkdError> {
        call!(self, client => client.release(id, priority, delay))
    }

    pub(super) async fn bury(&mut self, id: u64, priority: u32) -> Result<bool, BeanstalkdError> {
        call!(self, client => client.bury(id, priority))
    }

    pub(super) async fn touch(&mut self, id: u64) -> Result<bool, BeanstalkdError> {
        call!(self, client => client.touch(id))
    }

    pub(super) async fn ping(&mut self) -> Result<String, BeanstalkdError> {
        call!(self, client => client.ping())
    }
}
