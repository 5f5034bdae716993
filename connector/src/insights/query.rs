//! What a Logs Insights QL pipeline does to rows, read from its text: the
//! facts [`super::split`] needs to decide whether re-running the query over
//! slices of its time range gives exactly the rows one run over the whole
//! range would have given, had it no row cap.
//!
//! The text is cut into commands at each `|` outside quotes ("..", '..',
//! `..`), regular expressions (/../) and `#` comments. Each command is then
//! one of:
//! - row-wise (`fields`, `display`, `filter`, `filterIndex`, `parse`,
//!   `unmask`, and `SOURCE` as the first command): each output row comes
//!   from one event, whatever the other events are, so the rows of two time
//!   slices together are the rows of both (`unnest`, which makes several
//!   rows of one event, all with its `@ptr`, is not: splitting tells the
//!   events of a shared boundary second apart by `@ptr`);
//! - `sort @timestamp asc|desc`: a known order, which concatenating the
//!   slices in time order keeps;
//! - `sort` on anything else: an order splitting cannot rebuild;
//! - `limit N`: a cap of the query's own;
//! - set-wise (`stats`, `pattern`, `dedup`, `diff`, `anomaly`, and any
//!   command not named here): a row depends on other events, so the rows
//!   of two slices are not the rows of both.
//!
//! Where a `/` starts a regular expression is decided by the token before
//! it (`like`, `=~`, `in`, `(`, `,`, or `parse <field>`); elsewhere it is
//! division. Text that cannot be read surely (an unterminated quote or
//! regex, an empty command) is [`Shape::Unknown`], which is never split.

/// The order of a row-wise query's rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    /// Newest first: `sort @timestamp desc`, or no sort (Logs Insights
    /// returns the newest events first).
    NewestFirst,
    /// `sort @timestamp asc`.
    OldestFirst,
    /// Sorted by something else (or `sort @timestamp` without a direction).
    Other,
}

/// What the whole pipeline does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Shape {
    /// Every row is one event's; `limit` is the query's own `limit N`, if any.
    RowWise { order: Order, limit: Option<u64> },
    /// A command whose rows depend on other events (`stats`, `dedup`, ...),
    /// named as written.
    SetWise { command: String },
    /// The text could not be read surely; why.
    Unknown { reason: String },
}

/// The row-wise commands (lower case), besides `SOURCE` at the start.
const ROW_WISE: [&str; 6] = [
    "fields",
    "display",
    "filter",
    "filterindex",
    "parse",
    "unmask",
];

/// Reads a query's pipeline; see the module docs.
pub fn classify(query: &str) -> Shape {
    let commands = match commands(query) {
        Ok(c) => c,
        Err(reason) => return Shape::Unknown { reason },
    };
    let mut order = Order::NewestFirst;
    let mut limit = None;
    for (i, command) in commands.iter().enumerate() {
        let words: Vec<&str> = command.split_whitespace().collect();
        let Some(first) = words.first() else {
            return Shape::Unknown {
                reason: "an empty command (two `|` in a row, or one at an end)".into(),
            };
        };
        // The command's name ends at the first non-word character, as in
        // `unmask(@message)`.
        let name = first
            .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .next()
            .unwrap_or_default()
            .to_ascii_lowercase();
        match name.as_str() {
            "source" if i == 0 => {}
            n if ROW_WISE.contains(&n) => {}
            "sort" => order = sort_order(&words[1..]),
            "limit" => match words.get(1).and_then(|n| n.parse::<u64>().ok()) {
                Some(n) if words.len() == 2 => limit = Some(limit.map_or(n, |l: u64| l.min(n))),
                _ => {
                    return Shape::Unknown {
                        reason: format!("a limit command that is not `limit N`: {command:?}"),
                    }
                }
            },
            _ => {
                return Shape::SetWise {
                    command: first.to_string(),
                }
            }
        }
    }
    Shape::RowWise { order, limit }
}

/// The order `sort <arguments>` gives.
fn sort_order(arguments: &[&str]) -> Order {
    let words: Vec<String> = arguments.iter().map(|w| w.to_ascii_lowercase()).collect();
    match words.iter().map(String::as_str).collect::<Vec<_>>()[..] {
        ["@timestamp", "desc"] => Order::NewestFirst,
        ["@timestamp", "asc"] => Order::OldestFirst,
        _ => Order::Other,
    }
}

/// The commands of a pipeline, split at top-level `|`, comments removed.
pub(crate) fn commands(query: &str) -> Result<Vec<String>, String> {
    let chars: Vec<char> = query.chars().collect();
    let mut commands = Vec::new();
    let mut current = String::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            '"' | '\'' | '`' => {
                let end = closing(&chars, i, c)
                    .ok_or_else(|| format!("an unterminated {c} quote at character {}", i + 1))?;
                current.extend(&chars[i..=end]);
                i = end + 1;
            }
            '/' if starts_regex(&current) => {
                let end = closing(&chars, i, '/').ok_or_else(|| {
                    format!("an unterminated regular expression at character {}", i + 1)
                })?;
                current.extend(&chars[i..=end]);
                i = end + 1;
            }
            '#' => {
                while i < chars.len() && chars[i] != '\n' {
                    i += 1;
                }
            }
            '|' => {
                commands.push(std::mem::take(&mut current));
                i += 1;
            }
            _ => {
                current.push(c);
                i += 1;
            }
        }
    }
    commands.push(current);
    Ok(commands)
}

/// The index of the character closing the quote or regex opened at `open`
/// (a backslash escapes the next character).
fn closing(chars: &[char], open: usize, quote: char) -> Option<usize> {
    let mut i = open + 1;
    while i < chars.len() {
        match chars[i] {
            '\\' => i += 2,
            c if c == quote => return Some(i),
            _ => i += 1,
        }
    }
    None
}

/// Whether a `/` after the command text so far opens a regular expression.
fn starts_regex(before: &str) -> bool {
    let text = before.trim_end();
    if text.ends_with('(') || text.ends_with(',') || text.ends_with("=~") {
        return true;
    }
    let words: Vec<String> = text
        .split_whitespace()
        .map(|w| w.to_ascii_lowercase())
        .collect();
    match words.as_slice() {
        [.., last] if last == "like" || last == "in" => true,
        // `parse <field> /regex/`: the command's first two words.
        [command, _field] => command == "parse",
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row_wise(order: Order, limit: Option<u64>) -> Shape {
        Shape::RowWise { order, limit }
    }

    fn set_wise(command: &str) -> Shape {
        Shape::SetWise {
            command: command.into(),
        }
    }

    #[test]
    fn pipelines_are_classified() {
        use Order::*;
        let cases: Vec<(&str, Shape)> = vec![
            ("fields @timestamp, @message", row_wise(NewestFirst, None)),
            (
                "fields @message | filter @message like /ERROR/ | sort @timestamp desc",
                row_wise(NewestFirst, None),
            ),
            (
                "filter level = 'error' | SORT @timestamp ASC",
                row_wise(OldestFirst, None),
            ),
            ("sort @timestamp", row_wise(Other, None)),
            ("sort latency desc", row_wise(Other, None)),
            (
                "sort latency desc | sort @timestamp asc",
                row_wise(OldestFirst, None),
            ),
            ("fields x | limit 20", row_wise(NewestFirst, Some(20))),
            ("limit 50 | limit 20", row_wise(NewestFirst, Some(20))),
            (
                "SOURCE logGroups(namePrefix: ['/app']) | fields @message",
                row_wise(NewestFirst, None),
            ),
            (
                "parse @message 'user=* ' as user | display user | unmask(@message) | filterIndex x = 1",
                row_wise(NewestFirst, None),
            ),
            ("fields a | unnest a into b", set_wise("unnest")),
            ("stats count(*) by bin(5m)", set_wise("stats")),
            ("fields x | STATS count(*)", set_wise("STATS")),
            ("pattern @message", set_wise("pattern")),
            ("fields a | dedup a", set_wise("dedup")),
            ("diff", set_wise("diff")),
            ("anomaly", set_wise("anomaly")),
            ("fields a | lookup t a", set_wise("lookup")),
            ("fields a | source x", set_wise("source")),
            // Pipes inside quotes, regexes and comments are not commands.
            (
                "filter @message like /a|b/ | fields @message",
                row_wise(NewestFirst, None),
            ),
            (
                "filter @message =~ /x|y/ and path in [\"a|b\", 'c|d'] | fields `f|g`",
                row_wise(NewestFirst, None),
            ),
            (
                "parse @message /(?<a>\\S+)\\|(?<b>.*)/ | filter isPresent(a)",
                row_wise(NewestFirst, None),
            ),
            (
                "fields @message # | stats count(*)\n| filter x = 1",
                row_wise(NewestFirst, None),
            ),
            (
                "filter ispresent(x) and strcontains(@message, /p|q/)",
                row_wise(NewestFirst, None),
            ),
            // A `/` elsewhere is division, so the `|` after it is a pipe.
            ("fields bytes / 1024 as kb | stats sum(kb)", set_wise("stats")),
        ];
        for (query, want) in cases {
            assert_eq!(classify(query), want, "{query}");
        }
    }

    #[test]
    fn text_that_cannot_be_read_surely_is_unknown() {
        let cases = [
            (
                "filter @message like /abc",
                "unterminated regular expression",
            ),
            ("filter x = \"abc", "unterminated \" quote"),
            ("fields a || fields b", "empty command"),
            ("fields a |", "empty command"),
            ("fields a | limit ten", "not `limit N`"),
            ("fields a | limit 5 x", "not `limit N`"),
        ];
        for (query, want) in cases {
            match classify(query) {
                Shape::Unknown { reason } => assert!(reason.contains(want), "{query}: {reason}"),
                other => panic!("{query}: {other:?}"),
            }
        }
    }
}
