//! The arithmetic of the report: rates, percentiles, medians and ratios.

use std::time::Duration;

/// Jobs per second for `jobs` done in `elapsed`.
pub fn rate(jobs: u64, elapsed: Duration) -> f64 {
    let seconds = elapsed.as_secs_f64();
    if seconds > 0.0 {
        jobs as f64 / seconds
    } else {
        f64::INFINITY
    }
}

/// The `p`-th percentile (0 < p ≤ 100) of `samples` by the nearest-rank method: the
/// smallest sample with at least p% of the samples at or below it. `None` when there
/// are no samples.
///
/// # Panics
///
/// Panics if `p` is not in (0, 100].
pub fn percentile(samples: &[f64], p: f64) -> Option<f64> {
    assert!(p > 0.0 && p <= 100.0, "percentile {p} is not in (0, 100]");
    if samples.is_empty() {
        return None;
    }
    let mut sorted = samples.to_vec();
    sorted.sort_by(f64::total_cmp);
    let rank = (p / 100.0 * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

/// The median of `values`: the middle one, or the mean of the two middle ones. `None`
/// when there are none.
pub fn median(values: &[f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let middle = sorted.len() / 2;
    Some(if sorted.len() % 2 == 1 {
        sorted[middle]
    } else {
        (sorted[middle - 1] + sorted[middle]) / 2.0
    })
}

/// `zerog / apalis`, or `None` when it has no meaning (a zero or missing figure).
pub fn ratio(zerog: Option<f64>, apalis: Option<f64>) -> Option<f64> {
    match (zerog, apalis) {
        (Some(z), Some(a)) if a != 0.0 && z.is_finite() && a.is_finite() => Some(z / a),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_is_jobs_per_second() {
        assert_eq!(rate(500, Duration::from_millis(250)), 2000.0);
        assert!(rate(1, Duration::ZERO).is_infinite());
    }

    #[test]
    fn percentiles_use_the_nearest_rank() {
        let samples: Vec<f64> = (1..=100).rev().map(f64::from).collect();
        assert_eq!(percentile(&samples, 50.0), Some(50.0));
        assert_eq!(percentile(&samples, 99.0), Some(99.0));
        assert_eq!(percentile(&samples, 100.0), Some(100.0));
        assert_eq!(percentile(&samples, 0.1), Some(1.0));
    }

    #[test]
    fn percentiles_of_few_samples() {
        assert_eq!(percentile(&[], 50.0), None);
        assert_eq!(percentile(&[7.0], 99.0), Some(7.0));
        // Two samples: p50 is the lower, p99 the higher.
        assert_eq!(percentile(&[3.0, 1.0], 50.0), Some(1.0));
        assert_eq!(percentile(&[3.0, 1.0], 99.0), Some(3.0));
        // Ten samples: p99 is the maximum, p50 the fifth.
        let ten: Vec<f64> = (1..=10).map(f64::from).collect();
        assert_eq!(percentile(&ten, 99.0), Some(10.0));
        assert_eq!(percentile(&ten, 50.0), Some(5.0));
    }

    #[test]
    #[should_panic(expected = "not in (0, 100]")]
    fn a_percentile_past_100_panics() {
        percentile(&[1.0], 101.0);
    }

    #[test]
    fn medians_of_odd_and_even_counts() {
        assert_eq!(median(&[]), None);
        assert_eq!(median(&[5.0, 1.0, 3.0]), Some(3.0));
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), Some(2.5));
    }

    #[test]
    fn ratios_need_two_finite_figures() {
        assert_eq!(ratio(Some(3.0), Some(2.0)), Some(1.5));
        assert_eq!(ratio(Some(3.0), Some(0.0)), None);
        assert_eq!(ratio(None, Some(2.0)), None);
        assert_eq!(ratio(Some(f64::INFINITY), Some(2.0)), None);
    }
}
