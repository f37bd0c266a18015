//! When a failed request is sent again, and how long to wait first.
//!
//! Everything here is plain arithmetic on numbers handed in by the caller (the clock, the
//! random draw), so that it is tested without a JavaScript host.

/// HTTP statuses after which the same request can succeed if sent again later: the server
/// (or a proxy in front of it) says it did not process the request, or could not reach the
/// part that would have.
pub(crate) fn retryable_status(status: u16) -> bool {
    matches!(status, 408 | 429 | 502 | 503 | 504)
}

/// HTTP statuses after which a write may or may not have happened: a gateway gave up
/// waiting for, or lost, the server's answer. 408, 429 and 503 all mean "not processed".
pub(crate) fn ambiguous_status(status: u16) -> bool {
    matches!(status, 502 | 504)
}

/// How often and how patiently a request is retried: the `retries` option.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct RetryPolicy {
    /// Retries after the first attempt; 0 turns retrying off.
    pub count: u32,
    /// The backoff ceiling before the first retry, doubled before each next one.
    pub base_ms: f64,
    /// The largest backoff ceiling.
    pub max_ms: f64,
    /// The overall time budget of a call, attempts and waits included: no attempt starts,
    /// and no wait is begun, that would end after it.
    pub deadline_ms: f64,
}

impl RetryPolicy {
    /// The policy when the option is not given. Three retries spread over about a second
    /// ride out a server restart or a brief overload without holding a request for long.
    pub const DEFAULT: RetryPolicy =
        RetryPolicy { count: 3, base_ms: 100.0, max_ms: 5_000.0, deadline_ms: 30_000.0 };

    /// `retries: false`: one attempt, still bounded by the deadline.
    pub const OFF: RetryPolicy = RetryPolicy { count: 0, ..RetryPolicy::DEFAULT };

    /// The backoff before retry number `retry` (0 for the first retry), with full jitter:
    /// uniform between 0 and `min(max_ms, base_ms * 2^retry)`. `random` is a draw from
    /// `[0, 1)`. Full jitter spreads the retries of many clients that failed at the same
    /// moment, which is when a struggling server most needs them spread.
    pub fn backoff_ms(&self, retry: u32, random: f64) -> f64 {
        let ceiling = (self.base_ms * 2f64.powi(retry.min(52) as i32)).min(self.max_ms);
        ceiling * random.clamp(0.0, 1.0)
    }

    /// How long to wait before retry number `retry`, or `None` when the policy allows no
    /// further retry: the count is used up, or the wait would end past the deadline.
    ///
    /// A server's `Retry-After` replaces the computed backoff: the server knows when it
    /// expects to be back, and coming earlier only earns another refusal.
    pub fn delay_before(
        &self,
        retry: u32,
        retry_after_ms: Option<f64>,
        random: f64,
        elapsed_ms: f64,
    ) -> Option<f64> {
        if retry >= self.count {
            return None;
        }
        let wait = retry_after_ms.unwrap_or_else(|| self.backoff_ms(retry, random));
        (elapsed_ms + wait < self.deadline_ms).then_some(wait)
    }

    /// The time limit of the next attempt: the per-attempt timeout, cut to what is left
    /// of the deadline.
    pub fn attempt_timeout_ms(&self, timeout_ms: f64, elapsed_ms: f64) -> f64 {
        timeout_ms.min(self.deadline_ms - elapsed_ms).max(0.0)
    }
}

/// Parses a `Retry-After` header into a wait in milliseconds from `now_ms` (ms since the
/// Unix epoch). Both forms are accepted: delay-seconds (`120`) and an HTTP date in the
/// IMF-fixdate form every current server sends (`Wed, 21 Oct 2015 07:28:00 GMT`). A date
/// in the past means no wait. Anything else, the two obsolete date forms included, is
/// ignored, and the ordinary backoff applies.
pub(crate) fn parse_retry_after(raw: &str, now_ms: f64) -> Option<f64> {
    let raw = raw.trim();
    if !raw.is_empty() && raw.bytes().all(|b| b.is_ascii_digit()) {
        return raw.parse::<u64>().ok().map(|secs| secs as f64 * 1000.0);
    }
    let at_ms = parse_imf_fixdate(raw)? as f64 * 1000.0;
    Some((at_ms - now_ms).max(0.0))
}

/// Seconds since the Unix epoch of an IMF-fixdate (RFC 9110, section 5.6.7):
/// `Sun, 06 Nov 1994 08:49:37 GMT`. Hand-written because the only date the SDK reads is
/// this one header, and a date library would double the size of the WebAssembly module.
fn parse_imf_fixdate(raw: &str) -> Option<i64> {
    const MONTHS: [&str; 12] =
        ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    const DAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];

    let b = raw.as_bytes();
    if b.len() != 29 || &b[3..5] != b", " || &b[25..] != b" GMT" || !raw.is_char_boundary(3) {
        return None;
    }
    if !DAYS.contains(&&raw[..3]) || [7, 11, 16].iter().any(|&i| b[i] != b' ') {
        return None;
    }
    if b[19] != b':' || b[22] != b':' {
        return None;
    }
    let number = |from: usize, to: usize| -> Option<i64> {
        let digits = raw.get(from..to)?;
        digits.bytes().all(|c| c.is_ascii_digit()).then(|| digits.parse().ok())?
    };
    let day = number(5, 7)?;
    let month = MONTHS.iter().position(|&m| raw.get(8..11) == Some(m))? as i64 + 1;
    let year = number(12, 16)?;
    let (hour, minute, second) = (number(17, 19)?, number(20, 22)?, number(23, 25)?);
    if !(1..=31).contains(&day) || hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    Some(days_from_civil(year, month, day) * 86_400 + hour * 3_600 + minute * 60 + second)
}

/// Days from 1970-01-01 to a date of the proleptic Gregorian calendar (the algorithm of
/// Howard Hinnant's `days_from_civil`).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let day_of_year = (153 * ((month + 9) % 12) + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retryable_and_ambiguous_statuses() {
        for status in [408, 429, 502, 503, 504] {
            assert!(retryable_status(status), "{status}");
        }
        for status in [200, 400, 401, 403, 404, 412, 413, 500, 501] {
            assert!(!retryable_status(status), "{status}");
        }
        assert!(ambiguous_status(502) && ambiguous_status(504));
        assert!(!ambiguous_status(503) && !ambiguous_status(408) && !ambiguous_status(429));
    }

    #[test]
    fn backoff_doubles_up_to_the_cap_with_full_jitter() {
        let p = RetryPolicy { count: 10, base_ms: 100.0, max_ms: 1_000.0, deadline_ms: 1e9 };
        let ceilings: Vec<f64> = (0..6).map(|r| p.backoff_ms(r, 1.0)).collect();
        assert_eq!(ceilings, [100.0, 200.0, 400.0, 800.0, 1_000.0, 1_000.0]);
        assert_eq!(p.backoff_ms(3, 0.0), 0.0);
        assert_eq!(p.backoff_ms(3, 0.5), 400.0);
        // Huge retry numbers neither overflow nor exceed the cap.
        assert_eq!(p.backoff_ms(u32::MAX, 1.0), 1_000.0);
    }

    #[test]
    fn no_retry_past_the_count() {
        let p = RetryPolicy { count: 2, ..RetryPolicy::DEFAULT };
        assert!(p.delay_before(0, None, 0.5, 0.0).is_some());
        assert!(p.delay_before(1, None, 0.5, 0.0).is_some());
        assert_eq!(p.delay_before(2, None, 0.5, 0.0), None);
        assert_eq!(RetryPolicy::OFF.delay_before(0, None, 0.5, 0.0), None);
    }

    #[test]
    fn retry_after_replaces_the_backoff() {
        let p = RetryPolicy::DEFAULT;
        assert_eq!(p.delay_before(0, Some(2_000.0), 0.9, 0.0), Some(2_000.0));
        assert_eq!(p.delay_before(0, Some(0.0), 0.9, 0.0), Some(0.0));
    }

    #[test]
    fn no_wait_that_would_end_past_the_deadline() {
        let p = RetryPolicy { count: 5, base_ms: 100.0, max_ms: 100.0, deadline_ms: 1_000.0 };
        assert_eq!(p.delay_before(0, None, 1.0, 850.0), Some(100.0));
        assert_eq!(p.delay_before(0, None, 1.0, 900.0), None);
        assert_eq!(p.delay_before(0, Some(5_000.0), 0.0, 0.0), None);
    }

    #[test]
    fn attempts_are_cut_to_the_deadline() {
        let p = RetryPolicy { deadline_ms: 1_000.0, ..RetryPolicy::DEFAULT };
        assert_eq!(p.attempt_timeout_ms(300.0, 0.0), 300.0);
        assert_eq!(p.attempt_timeout_ms(300.0, 800.0), 200.0);
        assert_eq!(p.attempt_timeout_ms(300.0, 1_200.0), 0.0);
    }

    #[test]
    fn defaults_are_documented_values() {
        let d = RetryPolicy::DEFAULT;
        assert_eq!((d.count, d.base_ms, d.max_ms, d.deadline_ms), (3, 100.0, 5_000.0, 30_000.0));
        assert_eq!(RetryPolicy::OFF.count, 0);
        assert_eq!(RetryPolicy::OFF.deadline_ms, d.deadline_ms);
    }

    #[test]
    fn retry_after_seconds() {
        assert_eq!(parse_retry_after("0", 0.0), Some(0.0));
        assert_eq!(parse_retry_after("3", 0.0), Some(3_000.0));
        assert_eq!(parse_retry_after(" 120 ", 5.0), Some(120_000.0));
    }

    #[test]
    fn retry_after_http_dates() {
        // 2015-10-21T07:28:00Z
        let at = 1_445_412_480_000.0;
        let date = "Wed, 21 Oct 2015 07:28:00 GMT";
        assert_eq!(parse_retry_after(date, at - 1_500.0), Some(1_500.0));
        assert_eq!(parse_retry_after(date, at + 60_000.0), Some(0.0));
    }

    #[test]
    fn imf_fixdates() {
        assert_eq!(parse_imf_fixdate("Thu, 01 Jan 1970 00:00:00 GMT"), Some(0));
        assert_eq!(parse_imf_fixdate("Sun, 06 Nov 1994 08:49:37 GMT"), Some(784_111_777));
        assert_eq!(parse_imf_fixdate("Tue, 29 Feb 2000 12:00:00 GMT"), Some(951_825_600));
        assert_eq!(parse_imf_fixdate("Fri, 31 Dec 20x9 23:59:59 GMT"), None);
        assert_eq!(parse_imf_fixdate("Sat, 01 Jan 2100 00:00:00 GMT"), Some(4_102_444_800));
    }

    #[test]
    fn retry_after_garbage_is_ignored() {
        for bad in [
            "",
            "-1",
            "1.5",
            "soon",
            "99999999999999999999999",
            "Wed, 32 Oct 2015 07:28:00 GMT",
            "Wed, 21 Foo 2015 07:28:00 GMT",
            "Wed, 21 Oct 2015 07:28:00 UTC",
            "Wed, 21 Oct 2015 24:28:00 GMT",
            "Xyz, 21 Oct 2015 07:28:00 GMT",
            "Wednesday, 21-Oct-15 07:28:00 GMT",
            "Wed Oct 21 07:28:00 2015",
            "Wé, 21 Oct 2015 07:28:00 GMT",
        ] {
            assert_eq!(parse_retry_after(bad, 0.0), None, "{bad:?}");
        }
    }
}
