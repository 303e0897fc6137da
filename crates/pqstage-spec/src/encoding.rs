//! Text encodings a source may be written in.

use std::fmt;
use std::str::FromStr;

use crate::SpecError;

/// The encoding of a source's text. Whatever it is, staged text is UTF-8.
///
/// A byte-order mark overrides it: files that start with the UTF-8 or a
/// UTF-16 mark are read in that encoding (the mark is not data), and files
/// that start with a UTF-32 mark are refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Encoding {
    /// `utf-8` (the default): bytes that are not UTF-8 refuse their row.
    #[default]
    Utf8,
    /// `utf-16`: UTF-16 with a byte-order mark; little-endian without one.
    Utf16,
    /// `utf-16le`: UTF-16, little-endian (Excel's "Unicode text").
    Utf16Le,
    /// `utf-16be`: UTF-16, big-endian.
    Utf16Be,
    /// `latin-1` (ISO-8859-1): every byte is the code point of its value.
    Latin1,
    /// `windows-1252`: Latin-1 with printable characters (`€`, `‘`, `…`) in
    /// 0x80–0x9F, as Windows spreadsheets write.
    Windows1252,
}

impl Encoding {
    /// Every encoding, as written in a spec.
    pub const ALL: [Encoding; 6] =
        [Self::Utf8, Self::Utf16, Self::Utf16Le, Self::Utf16Be, Self::Latin1, Self::Windows1252];

    /// Whether this is UTF-8, the default.
    pub fn is_utf8(&self) -> bool {
        *self == Self::Utf8
    }
}

impl fmt::Display for Encoding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Utf8 => "utf-8",
            Self::Utf16 => "utf-16",
            Self::Utf16Le => "utf-16le",
            Self::Utf16Be => "utf-16be",
            Self::Latin1 => "latin-1",
            Self::Windows1252 => "windows-1252",
        })
    }
}

impl FromStr for Encoding {
    type Err = SpecError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let k: String = s.trim().to_ascii_lowercase().chars().filter(|c| !matches!(c, '-' | '_')).collect();
        Ok(match k.as_str() {
            "utf8" => Self::Utf8,
            "utf16" => Self::Utf16,
            "utf16le" => Self::Utf16Le,
            "utf16be" => Self::Utf16Be,
            "latin1" | "iso88591" | "l1" => Self::Latin1,
            "windows1252" | "cp1252" => Self::Windows1252,
            _ => {
                let known: Vec<String> = Self::ALL.iter().map(ToString::to_string).collect();
                return Err(SpecError::Invalid(format!(
                    "unknown encoding '{s}' (expected {}); other encodings can be converted to UTF-8 with iconv first",
                    known.join(", ")
                )));
            }
        })
    }
}

crate::types::serde_as_text!(Encoding);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_aliases_are_read() {
        for e in Encoding::ALL {
            assert_eq!(e.to_string().parse::<Encoding>().unwrap(), e);
        }
        assert_eq!("ISO-8859-1".parse::<Encoding>().unwrap(), Encoding::Latin1);
        assert_eq!("CP1252".parse::<Encoding>().unwrap(), Encoding::Windows1252);
        assert_eq!("UTF_16LE".parse::<Encoding>().unwrap(), Encoding::Utf16Le);
        let e = "shift-jis".parse::<Encoding>().unwrap_err().to_string();
        assert_eq!(e, "invalid spec: unknown encoding 'shift-jis' (expected utf-8, utf-16, utf-16le, utf-16be, latin-1, windows-1252); other encodings can be converted to UTF-8 with iconv first");
    }
}
