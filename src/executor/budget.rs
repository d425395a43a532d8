//! The failure budget: how many hosts of a phase may fail before the phase stops.
//!
//! Failures are counted across the whole phase, not per batch. A percentage is a percentage
//! of the phase's host count, rounded down (floor), so it never allows more failures than the
//! operator wrote: `5%` of 10 hosts allows 0 failures, `5%` of 255 hosts allows 12.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::str::FromStr;

/// How many failed (or unreachable) hosts a phase tolerates before it stops.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureBudget {
    /// At most this many hosts may fail.
    Count(usize),
    /// At most this percentage (0..=100) of the phase's hosts may fail, rounded down.
    Percent(u8),
}

/// Why a failure budget could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BudgetError {
    /// The text was empty.
    #[error("failure budget is empty: write a host count like \"3\" or a percentage like \"5%\"")]
    Empty,
    /// The text was neither a whole number nor a whole percentage.
    #[error("failure budget {input:?} is not a whole number or percentage: write \"3\" or \"5%\"")]
    NotANumber {
        /// The text as given.
        input: String,
    },
    /// The percentage was above 100.
    #[error("failure budget {input:?} is over 100%: use a percentage between 0% and 100%")]
    PercentOutOfRange {
        /// The text as given.
        input: String,
    },
}

impl FailureBudget {
    /// How many failures are allowed among `total` hosts.
    pub fn allowed(&self, total: usize) -> usize {
        match *self {
            Self::Count(n) => n,
            Self::Percent(p) => total.saturating_mul(usize::from(p)) / 100,
        }
    }

    /// Whether `failed` failures among `total` hosts are still within the budget.
    pub fn allows(&self, failed: usize, total: usize) -> bool {
        failed <= self.allowed(total)
    }
}

impl Default for FailureBudget {
    /// Zero tolerance: the first failure stops the phase.
    fn default() -> Self {
        Self::Count(0)
    }
}

impl FromStr for FailureBudget {
    type Err = BudgetError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let text = input.trim();
        if text.is_empty() {
            return Err(BudgetError::Empty);
        }
        let not_a_number = || BudgetError::NotANumber {
            input: input.to_owned(),
        };
        match text.strip_suffix('%') {
            Some(percent) => {
                let value: u64 = percent.trim().parse().map_err(|_| not_a_number())?;
                let value = u8::try_from(value)
                    .ok()
                    .filter(|v| *v <= 100)
                    .ok_or_else(|| BudgetError::PercentOutOfRange {
                        input: input.to_owned(),
                    })?;
                Ok(Self::Percent(value))
            }
            None => text.parse().map(Self::Count).map_err(|_| not_a_number()),
        }
    }
}

impl fmt::Display for FailureBudget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Count(n) => write!(f, "{n}"),
            Self::Percent(p) => write!(f, "{p}%"),
        }
    }
}

impl Serialize for FailureBudget {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Count(n) => serializer.serialize_u64(*n as u64),
            Self::Percent(_) => serializer.serialize_str(&self.to_string()),
        }
    }
}

/// The two accepted spellings in a plan file: `3` or `"3"` / `"5%"`.
#[derive(Deserialize)]
#[serde(untagged)]
enum RawBudget {
    Number(u64),
    Text(String),
}

impl<'de> Deserialize<'de> for FailureBudget {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        match RawBudget::deserialize(deserializer)? {
            RawBudget::Number(n) => usize::try_from(n)
                .map(Self::Count)
                .map_err(|_| serde::de::Error::custom("failure budget is too large")),
            RawBudget::Text(text) => text.parse().map_err(serde::de::Error::custom),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn count_allows_up_to_n_regardless_of_total() {
        let budget = FailureBudget::Count(3);
        assert!(budget.allows(3, 255));
        assert!(!budget.allows(4, 255));
        assert!(
            budget.allows(3, 2),
            "a count is absolute, even above the host count"
        );
    }

    #[test]
    fn zero_count_and_zero_percent_allow_no_failure() {
        for budget in [FailureBudget::Count(0), FailureBudget::Percent(0)] {
            assert!(budget.allows(0, 255));
            assert!(!budget.allows(1, 255));
        }
    }

    #[test]
    fn hundred_percent_allows_every_host_to_fail() {
        let budget = FailureBudget::Percent(100);
        assert!(budget.allows(255, 255));
        assert!(!budget.allows(256, 255));
        assert!(budget.allows(0, 0));
    }

    #[test]
    fn percentages_round_down() {
        assert_eq!(FailureBudget::Percent(5).allowed(10), 0);
        assert_eq!(FailureBudget::Percent(5).allowed(19), 0);
        assert_eq!(FailureBudget::Percent(5).allowed(20), 1);
        assert_eq!(FailureBudget::Percent(5).allowed(255), 12);
        assert_eq!(FailureBudget::Percent(10).allowed(0), 0);
        assert_eq!(
            FailureBudget::Percent(99).allowed(usize::MAX),
            usize::MAX / 100
        );
    }

    #[test]
    fn parses_counts_and_percentages() {
        assert_eq!("3".parse(), Ok(FailureBudget::Count(3)));
        assert_eq!(" 5% ".parse(), Ok(FailureBudget::Percent(5)));
        assert_eq!("0%".parse(), Ok(FailureBudget::Percent(0)));
        assert_eq!("100%".parse(), Ok(FailureBudget::Percent(100)));
    }

    #[test]
    fn rejects_bad_budgets_with_a_reason() {
        let err = |s: &str| s.parse::<FailureBudget>().unwrap_err();
        assert_eq!(err(""), BudgetError::Empty);
        assert!(matches!(err("101%"), BudgetError::PercentOutOfRange { .. }));
        assert!(matches!(
            err("1000%"),
            BudgetError::PercentOutOfRange { .. }
        ));
        for bad in ["-1", "2.5%", "five", "%", "3%%", "-5%"] {
            assert!(matches!(err(bad), BudgetError::NotANumber { .. }), "{bad}");
        }
        assert!(err("101%").to_string().contains("between 0% and 100%"));
    }

    #[test]
    fn serde_accepts_number_or_string_and_round_trips() {
        let parse = |s: &str| serde_json::from_str::<FailureBudget>(s);
        assert_eq!(parse("3").unwrap(), FailureBudget::Count(3));
        assert_eq!(parse("\"3\"").unwrap(), FailureBudget::Count(3));
        assert_eq!(parse("\"5%\"").unwrap(), FailureBudget::Percent(5));
        assert!(
            parse("\"150%\"")
                .unwrap_err()
                .to_string()
                .contains("over 100%")
        );
        assert!(parse("-1").is_err());
        for budget in [FailureBudget::Count(7), FailureBudget::Percent(25)] {
            let json = serde_json::to_string(&budget).unwrap();
            assert_eq!(parse(&json).unwrap(), budget);
        }
    }
}
