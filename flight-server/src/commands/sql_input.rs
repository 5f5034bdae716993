//! Where `logflight query` gets its statement: the argument, a file
//! (`-f audit.sql`) or standard input (`-`, or `-f -`).
//!
//! A statement with quotes, `$` and backslashes (a regular expression, a
//! `"logflight$meta"` name) needs no shell escaping in a file or a heredoc.

use std::io::Read;
use std::path::{Path, PathBuf};

use crate::error::{Result, ServerError};

/// Where the statement is; clap makes sure exactly one is given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SqlSource {
    Text(String),
    Stdin,
    File(PathBuf),
}

impl SqlSource {
    /// From `query`'s arguments: the positional one (`-` is stdin) or `-f`.
    pub fn from_args(sql: Option<String>, file: Option<PathBuf>) -> Result<Self> {
        match (sql, file) {
            (Some(text), None) if text == "-" => Ok(SqlSource::Stdin),
            (Some(text), None) => Ok(SqlSource::Text(text)),
            (None, Some(path)) if path == Path::new("-") => Ok(SqlSource::Stdin),
            (None, Some(path)) => Ok(SqlSource::File(path)),
            (None, None) => Err(ServerError::SqlInput(
                "no statement: give it as an argument, with -f FILE, or as - to read standard input"
                    .into(),
            )),
            (Some(_), Some(_)) => Err(ServerError::SqlInput(
                "two statements: give the SQL as an argument or with -f, not both".into(),
            )),
        }
    }

    /// The statement's text; an empty one is an error naming its source
    /// (rather than DataFusion's "No SQL statements were provided").
    pub fn read(self, stdin: impl Read) -> Result<String> {
        let (text, from) = match self {
            SqlSource::Text(text) => (text, "the SQL argument".to_string()),
            SqlSource::Stdin => (read_all(stdin, "standard input")?, "standard input".into()),
            SqlSource::File(path) => {
                let name = path.display().to_string();
                let text = std::fs::read_to_string(&path)
                    .map_err(|e| ServerError::SqlInput(format!("cannot read {name}: {e}")))?;
                (text, name)
            }
        };
        if text.trim().is_empty() {
            return Err(ServerError::SqlInput(format!(
                "{from} is empty: no SQL to run"
            )));
        }
        Ok(text)
    }
}

fn read_all(mut input: impl Read, name: &str) -> Result<String> {
    let mut text = String::new();
    input
        .read_to_string(&mut text)
        .map_err(|e| ServerError::SqlInput(format!("cannot read {name}: {e}")))?;
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(sql: Option<&str>, file: Option<&Path>, stdin: &str) -> Result<String> {
        SqlSource::from_args(sql.map(str::to_string), file.map(Path::to_path_buf))?
            .read(stdin.as_bytes())
    }

    #[test]
    fn reads_the_statement_from_where_it_is_given() {
        let dir = std::env::temp_dir().join(format!("logflight-sql-input-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("audit.sql");
        std::fs::write(&file, "SELECT 'a$b' AS \"x\"\n").unwrap();
        let empty = dir.join("empty.sql");
        std::fs::write(&empty, " \n\t\n").unwrap();
        let missing = dir.join("missing.sql");

        let ok: [(Option<&str>, Option<&Path>, &str, &str); 4] = [
            (Some("SELECT 1"), None, "", "SELECT 1"),
            (Some("-"), None, "SELECT 2\n", "SELECT 2\n"),
            (None, Some(Path::new("-")), "SELECT 3", "SELECT 3"),
            (None, Some(&file), "", "SELECT 'a$b' AS \"x\"\n"),
        ];
        for (sql, path, stdin, want) in ok {
            assert_eq!(read(sql, path, stdin).unwrap(), want, "{sql:?} {path:?}");
        }

        let errors: [(Option<&str>, Option<&Path>, &str, String); 6] = [
            (None, None, "", "no statement".into()),
            (Some("SELECT 1"), Some(&file), "", "not both".into()),
            (Some("  "), None, "", "the SQL argument is empty".into()),
            (Some("-"), None, "\n", "standard input is empty".into()),
            (
                None,
                Some(&empty),
                "",
                format!("{} is empty", empty.display()),
            ),
            (
                None,
                Some(&missing),
                "",
                format!("cannot read {}", missing.display()),
            ),
        ];
        for (sql, path, stdin, want) in errors {
            let err = read(sql, path, stdin).unwrap_err().to_string();
            assert!(err.contains(&want), "{err:?} lacks {want:?}");
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
