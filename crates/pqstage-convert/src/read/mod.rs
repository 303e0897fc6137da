//! Phase one's reading: source files opened and recognized ([`source`]:
//! compression, encoding, line breaks, through the streams of `filters`),
//! cut into chunks at record boundaries
//! ([`split`]), each chunk split into records and fields ([`tokenize`]),
//! typed into one Arrow array per column ([`columns`], [`parse`]) and grouped
//! by partition key ([`chunk`]). Derived columns ([`derive`]) are computed
//! later, when phase two writes a partition.

pub mod chunk;
pub mod columns;
pub mod derive;
mod filters;
pub mod parse;
pub mod source;
pub mod split;
pub mod tokenize;

use pqstage_spec::Dialect as SpecDialect;

use tokenize::Tokenizer;

/// The spec's dialect compiled for the hot loop: the tokenizer and the NULL rules.
#[derive(Debug, Clone)]
pub struct Dialect {
    /// Tokenizer of the delimiter and quote.
    pub tokenizer: Tokenizer,
    /// Whether an unquoted empty field is NULL.
    null_empty: bool,
    /// Other unquoted NULL spellings.
    null_other: Vec<Vec<u8>>,
}

impl Dialect {
    /// Compiles a spec's dialect.
    pub fn new(d: &SpecDialect) -> Self {
        Self {
            tokenizer: Tokenizer::new(d.delimiter as u8, d.quote as u8),
            null_empty: d.null.iter().any(String::is_empty),
            null_other: d.null.iter().filter(|s| !s.is_empty()).map(|s| s.as_bytes().to_vec()).collect(),
        }
    }

    /// Whether a field is NULL: unquoted, and empty or one of the NULL spellings.
    #[inline]
    pub fn is_null(&self, quoted: bool, bytes: &[u8]) -> bool {
        !quoted
            && ((bytes.is_empty() && self.null_empty)
                || (!self.null_other.is_empty() && self.null_other.iter().any(|n| n == bytes)))
    }
}
