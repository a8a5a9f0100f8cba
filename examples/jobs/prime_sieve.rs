//! Counts the primes below a limit, one segment per run, requeueing in between.
//!
//! The job keeps its partial result in its own fields: after every run the worker
//! stores them, and the next run resumes from there.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use zerog::{Job, JobContext, JobError, Outcome};

fn default_segment() -> u64 {
    1_000_000
}

/// Counts the primes below `limit` with a segmented sieve, one segment per run.
#[derive(Job, Serialize, Deserialize, JsonSchema)]
#[job(type = "prime_sieve", path = "examples", max_attempts = 5)]
pub struct PrimeSieve {
    /// Count the primes below this number.
    #[schemars(range(min = 2, max = 10_000_000_000u64))]
    pub limit: u64,
    /// How many numbers one run sieves before it requeues.
    #[serde(default = "default_segment")]
    #[schemars(range(min = 1000, max = 100_000_000))]
    pub segment: u64,
    /// Where the next run starts (state, not a parameter).
    #[serde(default)]
    #[schemars(skip)]
    pub next: u64,
    /// Primes found so far (state, not a parameter).
    #[serde(default)]
    #[schemars(skip)]
    pub count: u64,
    /// The largest prime found so far (state, not a parameter).
    #[serde(default)]
    #[schemars(skip)]
    pub largest: Option<u64>,
    /// Runs so far (state, not a parameter).
    #[serde(default)]
    #[schemars(skip)]
    pub runs: u32,
}

/// What `/data` shows for a finished sieve.
#[derive(Debug, Serialize, Deserialize, PartialEq)]
pub struct SieveResult {
    /// The limit sieved to (exclusive).
    pub limit: u64,
    /// How many primes are below it.
    pub count: u64,
    /// The largest of them.
    pub largest: Option<u64>,
    /// How many runs it took.
    pub runs: u32,
}

impl zerog::Run for PrimeSieve {
    async fn run(&mut self, ctx: &mut JobContext) -> Result<Outcome, JobError> {
        let low = self.next.max(2);
        let high = low.saturating_add(self.segment).min(self.limit);
        if low < high {
            let primes = primes_in(low, high);
            self.count += primes.len() as u64;
            self.largest = primes.last().copied().or(self.largest);
        }
        self.next = high;
        self.runs += 1;
        ctx.set_completeness(self.next as f64 / self.limit as f64);
        if self.next < self.limit {
            ctx.log_info(format!(
                "sieved below {}: {} primes so far",
                self.next, self.count
            ));
            return Ok(Outcome::requeue());
        }
        ctx.log_info(format!("{} primes below {}", self.count, self.limit));
        let result = SieveResult {
            limit: self.limit,
            count: self.count,
            largest: self.largest,
            runs: self.runs,
        };
        Ok(Outcome::done_with(200, result))
    }
}

/// The primes in `[low, high)`, by a sieve of that segment with the primes up to
/// √high.
pub fn primes_in(low: u64, high: u64) -> Vec<u64> {
    let root = (high as f64).sqrt() as u64 + 1;
    let mut small = vec![true; root as usize + 1];
    let mut base = Vec::new();
    for n in 2..=root {
        if small[n as usize] {
            base.push(n);
            let mut multiple = n * n;
            while multiple <= root {
                small[multiple as usize] = false;
                multiple += n;
            }
        }
    }
    let mut is_prime = vec![true; (high - low) as usize];
    for &p in &base {
        let first = (p * p).max(low.div_ceil(p) * p);
        let mut multiple = first;
        while multiple < high {
            is_prime[(multiple - low) as usize] = false;
            multiple += p;
        }
    }
    (low.max(2)..high)
        .filter(|&n| is_prime[(n - low) as usize])
        .collect()
}
