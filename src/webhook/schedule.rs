//! When a failed delivery is tried again: by default 30 s, 2 min, 10 min, 30 min and 2 h after
//! the first attempt's failure and each one after; `RENVO_WEBHOOK_RETRY_SCHEDULE` replaces it.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// The delays between attempts; its length is how many retries follow the first attempt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RetrySchedule(Vec<Duration>);

impl Default for RetrySchedule {
    fn default() -> Self {
        let minutes = |n: u64| Duration::from_secs(60 * n);
        RetrySchedule(vec![
            Duration::from_secs(30),
            minutes(2),
            minutes(10),
            minutes(30),
            minutes(120),
        ])
    }
}

impl RetrySchedule {
    /// The wait before the next attempt once `attempts_made` attempts have failed; `None` when
    /// the schedule is spent and the delivery is given up.
    pub fn delay_after(&self, attempts_made: u32) -> Option<Duration> {
        let index = usize::try_from(attempts_made).ok()?.checked_sub(1)?;
        self.0.get(index).copied()
    }

    pub fn delays(&self) -> &[Duration] {
        &self.0
    }
}

impl FromStr for RetrySchedule {
    type Err = String;

    /// A comma-separated list of delays, each a whole number with `ms`, `s`, `m` or `h`.
    fn from_str(text: &str) -> Result<Self, String> {
        let delays = text
            .split(',')
            .map(|item| parse_delay(item.trim()))
            .collect::<Result<Vec<_>, _>>()?;
        if delays.len() > 50 {
            return Err("a retry schedule has at most 50 delays".to_owned());
        }
        Ok(RetrySchedule(delays))
    }
}

/// One delay: a whole number with `ms`, `s`, `m` or `h`, at most a week.
pub fn parse_delay(item: &str) -> Result<Duration, String> {
    let split = item
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(item.len());
    let (number, unit) = item.split_at(split);
    let invalid = || format!("`{item}` is not a delay such as 500ms, 30s, 2m or 1h");
    let value: u64 = number.parse().map_err(|_| invalid())?;
    let millis = match unit {
        "ms" => Some(value),
        "s" => value.checked_mul(1000),
        "m" => value.checked_mul(60_000),
        "h" => value.checked_mul(3_600_000),
        _ => None,
    };
    let millis = millis
        .filter(|&ms| ms <= 7 * 24 * 3_600_000)
        .ok_or_else(invalid)?;
    Ok(Duration::from_millis(millis))
}

impl fmt::Display for RetrySchedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let items: Vec<String> = self
            .0
            .iter()
            .map(|d| format!("{}ms", d.as_millis()))
            .collect();
        f.write_str(&items.join(","))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_retries_five_times_after_the_first_attempt() {
        let schedule = RetrySchedule::default();
        assert_eq!(schedule.delay_after(0), None);
        assert_eq!(schedule.delay_after(1), Some(Duration::from_secs(30)));
        assert_eq!(schedule.delay_after(5), Some(Duration::from_secs(7200)));
        assert_eq!(schedule.delay_after(6), None);
    }

    #[test]
    fn a_schedule_parses_from_a_list_of_delays() {
        let schedule: RetrySchedule = "0s, 1s,250ms,2m,1h".parse().unwrap();
        let expected = [0, 1000, 250, 120_000, 3_600_000].map(Duration::from_millis);
        assert_eq!(schedule.delays(), expected);
    }

    #[test]
    fn malformed_schedules_are_refused() {
        for text in ["", "1", "1d", "-1s", "s", "1s,,2s", "99999999999999h"] {
            assert!(text.parse::<RetrySchedule>().is_err(), "{text}");
        }
    }
}
