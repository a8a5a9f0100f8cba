//! The words that `#[derive(Job)]` reads, spelled once.

use std::fmt;

use syn::{Ident, Path};

/// A keyword of an attribute, compared against parsed paths and idents.
#[derive(Copy, Clone, PartialEq, Eq)]
pub struct Symbol(&'static str);

pub const JOB: Symbol = Symbol("job");
pub const DOC: Symbol = Symbol("doc");
pub const SERDE: Symbol = Symbol("serde");
pub const DENY_UNKNOWN_FIELDS: Symbol = Symbol("deny_unknown_fields");

pub const TYPE: Symbol = Symbol("type");
pub const QUEUE: Symbol = Symbol("queue");
pub const COST: Symbol = Symbol("cost");
pub const MAX_ATTEMPTS: Symbol = Symbol("max_attempts");
pub const TIMEOUT: Symbol = Symbol("timeout");
pub const RETRY_BACKOFF: Symbol = Symbol("retry_backoff");
pub const RETRY_DELAY: Symbol = Symbol("retry_delay");
pub const DESCRIPTION: Symbol = Symbol("description");
pub const NAME: Symbol = Symbol("name");
pub const PATH: Symbol = Symbol("path");
pub const ALLOW_UNKNOWN_FIELDS: Symbol = Symbol("allow_unknown_fields");
pub const UNIQUE_FOR: Symbol = Symbol("unique_for");
pub const PRIORITY: Symbol = Symbol("priority");

/// Every key of `#[job(...)]`, in the order the error for an unknown key lists them.
pub const JOB_KEYS: [Symbol; 13] = [
    TYPE,
    QUEUE,
    COST,
    MAX_ATTEMPTS,
    PRIORITY,
    TIMEOUT,
    RETRY_BACKOFF,
    RETRY_DELAY,
    DESCRIPTION,
    NAME,
    PATH,
    UNIQUE_FOR,
    ALLOW_UNKNOWN_FIELDS,
];

/// The values of `retry_backoff`.
pub const EXPONENTIAL: &str = "exponential";
pub const FIXED: &str = "fixed";

impl Symbol {
    pub fn as_str(self) -> &'static str {
        self.0
    }
}

impl PartialEq<Symbol> for Ident {
    fn eq(&self, word: &Symbol) -> bool {
        self == word.0
    }
}

impl PartialEq<Symbol> for Path {
    fn eq(&self, word: &Symbol) -> bool {
        self.is_ident(word.0)
    }
}

impl fmt::Display for Symbol {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.0)
    }
}
