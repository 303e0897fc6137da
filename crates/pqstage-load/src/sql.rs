//! SQL text: quoting, templates, and the named queries of `sql/<engine>/`.
//!
//! SQL lives in files under the repository's `sql/` folder as named blocks,
//! the convention of aiosql (and of the users' own code):
//!
//! ```sql
//! -- name: count_rows
//! -- Rows of a table. Placeholder: table.
//! SELECT count(*) FROM {table};
//! ```
//!
//! The comment lines right after the name are the query's description. A
//! crate declares the queries it runs with [`queries!`](crate::queries),
//! which compiles the file in and gives each query a field, so a query that
//! is renamed or missing is a compile error at the use and a test failure at
//! the file, never a typo found at run time.

/// A double-quoted SQL identifier (the same rule in PostgreSQL and DuckDB).
pub fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// A single-quoted SQL string literal.
pub fn literal(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// Fills the `{name}` placeholders of a SQL template in one pass: a value
/// is inserted as given and never searched for placeholders itself (a
/// literal that reads `{text}` stays as it is). Quote identifiers with
/// [`quote_ident`] and text with [`literal`]. Braces that name no variable
/// are kept.
pub fn render(template: &str, vars: &[(&str, &str)]) -> String {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(i) = rest.find('{') {
        out.push_str(&rest[..i]);
        let inside = &rest[i + 1..];
        let var = vars.iter().find(|(k, _)| inside.strip_prefix(k).is_some_and(|after| after.starts_with('}')));
        match var {
            Some((k, v)) => {
                out.push_str(v);
                rest = &inside[k.len() + 1..];
            }
            None => {
                out.push('{');
                rest = inside;
            }
        }
    }
    out.push_str(rest);
    out
}

/// One named query of a SQL file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    /// Its name (`-- name: …`).
    pub name: &'static str,
    /// Its description: the comment lines after the name, without `--`,
    /// joined by spaces.
    pub doc: String,
    /// The statement(s), comments included, as written.
    pub sql: &'static str,
}

/// Why a SQL file does not parse into named queries.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueriesError {
    /// Text before the first `-- name:` line that is not a comment.
    #[error("{file}: SQL before the first `-- name:` line")]
    Unnamed {
        /// The file.
        file: &'static str,
    },
    /// Two blocks with one name.
    #[error("{file}: query {name} is defined twice")]
    Duplicate {
        /// The file.
        file: &'static str,
        /// The name.
        name: &'static str,
    },
    /// A block with no statement.
    #[error("{file}: query {name} has no SQL")]
    Empty {
        /// The file.
        file: &'static str,
        /// The name.
        name: &'static str,
    },
    /// A name the code asks for that the file lacks.
    #[error("{file}: no query named {name}")]
    Missing {
        /// The file.
        file: &'static str,
        /// The name.
        name: &'static str,
    },
    /// A block the code does not declare (dead SQL, or a name misspelt on one side).
    #[error("{file}: query {name} is not declared by the code that loads the file")]
    Undeclared {
        /// The file.
        file: &'static str,
        /// The name.
        name: &'static str,
    },
}

/// A named block being read: its name and the byte range of its description.
struct Block {
    name: &'static str,
    doc: std::ops::Range<usize>,
    in_doc: bool,
}

impl Block {
    /// The query of the block, which ends at byte `end` of `text`.
    fn close(self, file: &'static str, text: &'static str, end: usize) -> Result<Query, QueriesError> {
        let name = self.name;
        let sql = text[self.doc.end..end].trim();
        let has_statement = sql.lines().any(|l| !l.trim().is_empty() && !l.trim_start().starts_with("--"));
        if !has_statement {
            return Err(QueriesError::Empty { file, name });
        }
        Ok(Query { name, doc: doc_text(&text[self.doc]), sql })
    }
}

/// The named queries of one SQL file, in file order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Queries {
    file: &'static str,
    queries: Vec<Query>,
}

impl Queries {
    /// Parses `text`, the contents of `file` (the name is for messages).
    ///
    /// # Errors
    /// [`QueriesError`] for SQL outside a named block, a name used twice or
    /// a block without SQL.
    pub fn parse(file: &'static str, text: &'static str) -> Result<Self, QueriesError> {
        let mut queries: Vec<Query> = Vec::new();
        let mut open: Option<Block> = None;
        let mut offset = 0;
        for line in text.split_inclusive('\n') {
            let (start, end) = (offset, offset + line.len());
            offset = end;
            let trimmed = line.trim();
            if let Some(name) = trimmed.strip_prefix("-- name:").map(str::trim) {
                if let Some(block) = open.take() {
                    queries.push(block.close(file, text, start)?);
                }
                if queries.iter().any(|q| q.name == name) {
                    return Err(QueriesError::Duplicate { file, name });
                }
                open = Some(Block { name, doc: end..end, in_doc: true });
                continue;
            }
            match &mut open {
                None if trimmed.is_empty() || trimmed.starts_with("--") => {}
                None => return Err(QueriesError::Unnamed { file }),
                // Comment lines straight after the name are its description.
                Some(b) if b.in_doc && trimmed.starts_with("--") => b.doc.end = end,
                Some(b) => b.in_doc = false,
            }
        }
        if let Some(block) = open.take() {
            queries.push(block.close(file, text, text.len())?);
        }
        Ok(Self { file, queries })
    }

    /// Every query, in file order.
    pub fn iter(&self) -> impl Iterator<Item = &Query> {
        self.queries.iter()
    }

    /// Every query, in file order, for the users' tables in `schema`: name,
    /// description and SQL with `{schema}` filled in (quoted).
    pub fn for_schema(&self, schema: &str) -> Vec<(&'static str, &str, String)> {
        let quoted = quote_ident(schema);
        self.queries.iter().map(|q| (q.name, q.doc.as_str(), render(q.sql, &[("schema", &quoted)]))).collect()
    }

    /// The query called `name`.
    ///
    /// # Errors
    /// [`QueriesError::Missing`].
    pub fn get(&self, name: &'static str) -> Result<&Query, QueriesError> {
        self.queries.iter().find(|q| q.name == name).ok_or(QueriesError::Missing { file: self.file, name })
    }

    /// Checks that the file defines exactly `names`.
    ///
    /// # Errors
    /// [`QueriesError::Missing`] or [`QueriesError::Undeclared`].
    pub fn expect_exactly(&self, names: &[&'static str]) -> Result<(), QueriesError> {
        for name in names {
            self.get(name)?;
        }
        match self.queries.iter().find(|q| !names.contains(&q.name)) {
            Some(q) => Err(QueriesError::Undeclared { file: self.file, name: q.name }),
            None => Ok(()),
        }
    }
}

/// The description of a block: its comment lines without `--`, joined.
fn doc_text(lines: &str) -> String {
    lines.lines().map(|l| l.trim().trim_start_matches("--").trim()).collect::<Vec<_>>().join(" ")
}

/// Declares a struct of the named queries of a file under the repository's
/// `sql/` folder, compiled in. Each field is a query's SQL text; `load()`
/// parses the file once and fails if it defines other queries than the ones
/// declared (run it in a test). `all()` gives every query with its
/// description.
///
/// ```
/// pqstage_load::queries! {
///     /// The DuckDB loader's queries.
///     pub struct Summary from "duckdb/summaries_violations.sql" { by_year, top_companies }
/// }
/// let q = Summary::load();
/// assert!(q.by_year.contains("GROUP BY year"));
/// assert!(q.all().get("top_companies").unwrap().doc.starts_with("The ten companies"));
/// ```
#[macro_export]
macro_rules! queries {
    ($(#[$meta:meta])* $vis:vis struct $name:ident from $file:literal { $($query:ident),* $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone)]
        #[allow(missing_docs)]
        $vis struct $name {
            $(pub $query: &'static str,)*
            all: $crate::sql::Queries,
        }

        impl $name {
            /// Parses the file and takes each declared query from it.
            ///
            /// # Panics
            /// When the file compiled in does not define exactly the
            /// declared queries: a bug that this crate's tests catch.
            pub fn load() -> Self {
                let text = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../../sql/", $file));
                let all = $crate::sql::Queries::parse($file, text)
                    .and_then(|q| q.expect_exactly(&[$(stringify!($query)),*]).map(|()| q))
                    .unwrap_or_else(|e| panic!("sql/{}: {e}", $file));
                Self {
                    $($query: all.get(stringify!($query)).expect("checked above").sql,)*
                    all,
                }
            }

            /// Every query of the file, with its description.
            pub fn all(&self) -> &$crate::sql::Queries {
                &self.all
            }
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_and_templates() {
        assert_eq!(quote_ident(r#"a"b"#), r#""a""b""#);
        assert_eq!(literal("it's"), "'it''s'");
        assert_eq!(render("CREATE TABLE {t} ({c})", &[("t", "x"), ("c", "y int")]), "CREATE TABLE x (y int)");
        // One pass: a value holding a placeholder's name is not filled again,
        // and braces that name no variable stay.
        assert_eq!(
            render("SELECT {float}, {text}, '{}', {other}", &[("float", "'{text}'"), ("text", "t")]),
            "SELECT '{text}', t, '{}', {other}"
        );
    }

    const FILE: &str = "-- The file's own comment.\n\n\
        -- name: by_year\n-- Per year: rows.\n-- Placeholder: table.\nSELECT year, count(*)\nFROM {table};\n\n\
        -- name: plain\nSELECT 1;\n";

    #[test]
    fn named_blocks_with_descriptions() {
        let q = Queries::parse("f.sql", FILE).unwrap();
        let names: Vec<&str> = q.iter().map(|q| q.name).collect();
        assert_eq!(names, ["by_year", "plain"]);
        let by_year = q.get("by_year").unwrap();
        assert_eq!(by_year.doc, "Per year: rows. Placeholder: table.");
        assert_eq!(by_year.sql, "SELECT year, count(*)\nFROM {table};");
        assert_eq!(q.get("plain").unwrap().sql, "SELECT 1;");
        assert_eq!(q.get("plain").unwrap().doc, "");
        assert_eq!(q.get("nope").unwrap_err().to_string(), "f.sql: no query named nope");
        assert!(q.expect_exactly(&["by_year", "plain"]).is_ok());
        assert_eq!(
            q.expect_exactly(&["by_year"]).unwrap_err().to_string(),
            "f.sql: query plain is not declared by the code that loads the file"
        );
    }

    #[test]
    fn malformed_files_are_refused() {
        let err = |t: &'static str| Queries::parse("f.sql", t).unwrap_err().to_string();
        assert_eq!(err("SELECT 1;\n-- name: a\nSELECT 2;"), "f.sql: SQL before the first `-- name:` line");
        assert_eq!(err("-- name: a\nSELECT 1;\n-- name: a\nSELECT 2;"), "f.sql: query a is defined twice");
        assert_eq!(err("-- name: a\n-- only a comment\n\n-- name: b\nSELECT 2;"), "f.sql: query a has no SQL");
    }
}
