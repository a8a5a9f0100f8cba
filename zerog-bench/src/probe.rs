//! What a child process measures about itself: when each job was enqueued and when it
//! started (the no-op job of either system calls [`mark_started`] first thing), and its
//! peak resident set size.
//!
//! The instants are nanoseconds since the probe was installed, plus one, kept in atomics
//! indexed by the job's sequence number, so that a job can mark its start from any
//! worker thread without a lock. Zero means "not yet".

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

struct Probe {
    base: Instant,
    enqueued: Vec<AtomicU64>,
    started: Vec<AtomicU64>,
    started_count: AtomicU64,
}

static PROBE: OnceLock<Probe> = OnceLock::new();

/// Sets up room for jobs `0..jobs`. Only the first call has an effect.
pub fn install(jobs: u64) {
    PROBE.get_or_init(|| {
        let slots = || (0..jobs).map(|_| AtomicU64::new(0)).collect();
        Probe {
            base: Instant::now(),
            enqueued: slots(),
            started: slots(),
            started_count: AtomicU64::new(0),
        }
    });
}

fn probe() -> &'static Probe {
    PROBE.get().expect("probe::install runs before any job")
}

fn now_mark(probe: &Probe) -> u64 {
    u64::try_from(probe.base.elapsed().as_nanos()).unwrap_or(u64::MAX - 1) + 1
}

fn slot(slots: &[AtomicU64], seq: u64) -> Option<&AtomicU64> {
    usize::try_from(seq).ok().and_then(|i| slots.get(i))
}

/// Records that job `seq` is about to be enqueued.
pub fn mark_enqueued(seq: u64) {
    let probe = probe();
    if let Some(slot) = slot(&probe.enqueued, seq) {
        slot.store(now_mark(probe), Ordering::Release);
    }
}

/// Records that job `seq` started running. Only its first start counts: a job run
/// twice (at-least-once delivery) is counted once.
pub fn mark_started(seq: u64) {
    let probe = probe();
    if let Some(slot) = slot(&probe.started, seq)
        && slot
            .compare_exchange(0, now_mark(probe), Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    {
        probe.started_count.fetch_add(1, Ordering::AcqRel);
    }
}

/// How many distinct jobs have started.
pub fn started() -> u64 {
    probe().started_count.load(Ordering::Acquire)
}

/// Enqueue→start latency of each job in `seqs` that has both marks, in milliseconds.
pub fn latencies_ms(seqs: std::ops::Range<u64>) -> Vec<f64> {
    let probe = probe();
    seqs.filter_map(|seq| {
        let enqueued = slot(&probe.enqueued, seq)?.load(Ordering::Acquire);
        let started = slot(&probe.started, seq)?.load(Ordering::Acquire);
        (enqueued != 0 && started != 0).then(|| {
            // A start can only follow its enqueue; saturate against clock oddities.
            Duration::from_nanos(started.saturating_sub(enqueued)).as_secs_f64() * 1000.0
        })
    })
    .collect()
}

/// The peak resident set size of this process (`VmHWM` of `/proc/self/status`), in
/// KiB, where the platform has it.
pub fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    parse_vm_hwm(&status)
}

/// The `VmHWM` line of a `/proc/PID/status` text, in KiB.
pub fn parse_vm_hwm(status: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|rest| rest.trim().strip_suffix("kB"))
        .and_then(|kib| kib.trim().parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vm_hwm_is_read_in_kib() {
        let status =
            "Name:\tzerog-bench\nVmPeak:\t  123456 kB\nVmHWM:\t   20480 kB\nVmRSS:\t 1 kB\n";
        assert_eq!(parse_vm_hwm(status), Some(20480));
        assert_eq!(parse_vm_hwm("Name:\tx\n"), None);
    }

    #[test]
    fn this_process_has_a_peak_rss() {
        if cfg!(target_os = "linux") {
            assert!(peak_rss_kib().is_some_and(|kib| kib > 0));
        }
    }

    #[test]
    fn marks_give_latencies_and_count_a_start_once() {
        install(4);
        mark_enqueued(0);
        mark_started(0);
        mark_started(0);
        mark_started(1);
        mark_enqueued(2);
        // Out of range: ignored, not a panic.
        mark_started(99);
        mark_enqueued(99);
        assert_eq!(started(), 2);
        let latencies = latencies_ms(0..4);
        assert_eq!(latencies.len(), 1, "only job 0 has both marks");
        assert!(latencies[0] >= 0.0);
    }
}
