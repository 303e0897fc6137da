//! Column types a spec can declare, and their text form (`int64`, `decimal(12,2)` …).

use std::fmt;
use std::str::FromStr;

use crate::SpecError;

/// Largest precision of a `decimal(p,s)` column: what a 128-bit integer holds.
pub const MAX_DECIMAL_PRECISION: u8 = 38;

/// The type of a column, as written in the spec and as stored in Parquet.
///
/// The text form (`Display`/`FromStr`) is what appears in the TOML spec.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ColumnType {
    /// `bool`: true/false, t/f, yes/no, y/n, 1/0 (any case).
    Bool,
    /// `int16`: 16-bit signed integer.
    Int16,
    /// `int32`: 32-bit signed integer.
    Int32,
    /// `int64`: 64-bit signed integer.
    Int64,
    /// `float64`: IEEE 754 double, NaN and ±inf included.
    Float64,
    /// `decimal(p,s)`: exact decimal with `precision` digits, `scale` after the point.
    Decimal {
        /// Total number of significant digits, 1..=38.
        precision: u8,
        /// Digits after the decimal point, 0..=precision.
        scale: u8,
    },
    /// `date`: calendar date without time zone.
    Date,
    /// `timestamp`: date and time without time zone, microsecond resolution.
    Timestamp,
    /// `timestamptz`: an instant (stored in UTC), microsecond resolution.
    TimestampTz,
    /// `text`: UTF-8 string, kept exactly as read (leading zeros included).
    Text,
}

impl ColumnType {
    /// True for the types a `year(...)` expression accepts.
    pub fn is_temporal(self) -> bool {
        matches!(self, Self::Date | Self::Timestamp | Self::TimestampTz)
    }

    /// True for types that may carry a `format` in the spec.
    pub fn takes_format(self) -> bool {
        self.is_temporal()
    }
}

impl fmt::Display for ColumnType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Bool => f.write_str("bool"),
            Self::Int16 => f.write_str("int16"),
            Self::Int32 => f.write_str("int32"),
            Self::Int64 => f.write_str("int64"),
            Self::Float64 => f.write_str("float64"),
            Self::Decimal { precision, scale } => write!(f, "decimal({precision},{scale})"),
            Self::Date => f.write_str("date"),
            Self::Timestamp => f.write_str("timestamp"),
            Self::TimestampTz => f.write_str("timestamptz"),
            Self::Text => f.write_str("text"),
        }
    }
}

impl FromStr for ColumnType {
    type Err = SpecError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim().to_ascii_lowercase();
        let simple = match t.as_str() {
            "bool" | "boolean" => Some(Self::Bool),
            "int16" | "smallint" => Some(Self::Int16),
            "int32" | "int" | "integer" => Some(Self::Int32),
            "int64" | "bigint" => Some(Self::Int64),
            "float64" | "double" => Some(Self::Float64),
            "date" => Some(Self::Date),
            "timestamp" => Some(Self::Timestamp),
            "timestamptz" => Some(Self::TimestampTz),
            "text" | "string" | "varchar" => Some(Self::Text),
            _ => None,
        };
        if let Some(t) = simple {
            return Ok(t);
        }
        let bad = || SpecError::UnknownType(s.to_string());
        let inner = t
            .strip_prefix("decimal(")
            .or_else(|| t.strip_prefix("numeric("))
            .and_then(|r| r.strip_suffix(')'))
            .ok_or_else(bad)?;
        let (p, sc) = inner.split_once(',').ok_or_else(bad)?;
        let precision: u8 = p.trim().parse().map_err(|_| bad())?;
        let scale: u8 = sc.trim().parse().map_err(|_| bad())?;
        if precision == 0 || precision > MAX_DECIMAL_PRECISION || scale > precision {
            return Err(SpecError::Invalid(format!(
                "decimal({precision},{scale}): precision must be 1..={MAX_DECIMAL_PRECISION} and scale at most the precision"
            )));
        }
        Ok(Self::Decimal { precision, scale })
    }
}

/// Serde for a type written in the spec by its text form (`Display` and
/// `FromStr`): `type = "decimal(12,2)"`, `encoding = "latin-1"`.
macro_rules! serde_as_text {
    ($t:ty) => {
        impl serde::Serialize for $t {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }

        impl<'de> serde::Deserialize<'de> for $t {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                s.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}
pub(crate) use serde_as_text;

serde_as_text!(ColumnType);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_form_round_trips() {
        for t in [
            ColumnType::Bool,
            ColumnType::Int16,
            ColumnType::Int32,
            ColumnType::Int64,
            ColumnType::Float64,
            ColumnType::Decimal { precision: 12, scale: 2 },
            ColumnType::Date,
            ColumnType::Timestamp,
            ColumnType::TimestampTz,
            ColumnType::Text,
        ] {
            assert_eq!(t.to_string().parse::<ColumnType>().unwrap(), t);
        }
        assert_eq!("numeric( 10 , 0 )".parse::<ColumnType>().unwrap(), ColumnType::Decimal { precision: 10, scale: 0 });
    }

    #[test]
    fn bad_types_are_refused_with_reason() {
        assert_eq!("int128".parse::<ColumnType>().unwrap_err().to_string(), "unknown column type 'int128' (expected bool, int16, int32, int64, float64, decimal(p,s), date, timestamp, timestamptz or text)");
        assert!("decimal(39,2)".parse::<ColumnType>().unwrap_err().to_string().contains("precision must be 1..=38"));
        assert!("decimal(4,5)".parse::<ColumnType>().is_err());
    }
}
