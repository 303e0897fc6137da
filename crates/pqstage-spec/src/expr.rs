//! The small expression language of derived columns and partition keys:
//! `FUNCTION(column)`.

use std::fmt;
use std::str::FromStr;

use crate::{ColumnType, SpecError};

/// A function applied to one source column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Function {
    /// `year(col)`: the calendar year of a date or timestamp, as int32.
    Year,
    /// `normalize_name(col)`: upper case, punctuation removed, whitespace
    /// collapsed and legal suffixes (INC, LLC, CORP, CO …) stripped.
    NormalizeName,
    /// `upper(col)`: upper case.
    Upper,
    /// `lower(col)`: lower case.
    Lower,
    /// `trim(col)`: leading and trailing whitespace removed.
    Trim,
}

impl Function {
    /// The function's name as written in a spec.
    pub fn name(self) -> &'static str {
        match self {
            Self::Year => "year",
            Self::NormalizeName => "normalize_name",
            Self::Upper => "upper",
            Self::Lower => "lower",
            Self::Trim => "trim",
        }
    }

    /// The result type for an argument of type `arg`.
    ///
    /// # Errors
    /// [`ArgumentError`] when the function does not take that type.
    pub fn result_type(self, arg: ColumnType) -> Result<ColumnType, ArgumentError> {
        match self {
            Self::Year if arg.is_temporal() => Ok(ColumnType::Int32),
            _ if self != Self::Year && arg == ColumnType::Text => Ok(ColumnType::Text),
            function => Err(ArgumentError { function, got: arg }),
        }
    }
}

/// A function given a column of a type it does not take.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{}() takes a {} column, not {got}", function.name(), if *function == Function::Year { "date or timestamp" } else { "text" })]
pub struct ArgumentError {
    /// The function.
    pub function: Function,
    /// The column's type.
    pub got: ColumnType,
}

/// `FUNCTION(column)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expr {
    /// The function applied.
    pub function: Function,
    /// The source column's name.
    pub column: String,
}

impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}({})", self.function.name(), self.column)
    }
}

impl FromStr for Expr {
    type Err = SpecError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = |why: &str| SpecError::BadExpr { expr: s.to_string(), reason: why.to_string() };
        let t = s.trim();
        let (name, rest) = t.split_once('(').ok_or_else(|| bad("expected FUNCTION(column)"))?;
        let column = rest.strip_suffix(')').ok_or_else(|| bad("missing ')'"))?.trim();
        if column.is_empty() {
            return Err(bad("missing column name"));
        }
        let function = match name.trim().to_ascii_lowercase().as_str() {
            "year" => Function::Year,
            "normalize_name" => Function::NormalizeName,
            "upper" => Function::Upper,
            "lower" => Function::Lower,
            "trim" => Function::Trim,
            _ => return Err(bad("unknown function (known: year, normalize_name, upper, lower, trim)")),
        };
        Ok(Expr { function, column: column.to_string() })
    }
}

impl serde::Serialize for Expr {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Expr {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints() {
        let e: Expr = " YEAR( issuance_date ) ".parse().unwrap();
        assert_eq!(e, Expr { function: Function::Year, column: "issuance_date".into() });
        assert_eq!(e.to_string(), "year(issuance_date)");
    }

    #[test]
    fn refuses_unknown_functions() {
        let err = "month(d)".parse::<Expr>().unwrap_err().to_string();
        assert_eq!(
            err,
            "bad expression 'month(d)': unknown function (known: year, normalize_name, upper, lower, trim)"
        );
        assert!("year".parse::<Expr>().is_err());
        assert!("year()".parse::<Expr>().is_err());
    }
}
