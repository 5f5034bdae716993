//! Where the server's own log goes: stderr, filtered by `--log-level`
//! (else `RUST_LOG`, else `info`), as text or JSON lines (`--log-format`).
//!
//! Log shippers (journald, Kubernetes, Fluent Bit) read one event per
//! line and store what they read: colour codes are only written to a
//! terminal (and never with `NO_COLOR`), and a field holding a line break
//! (multi-line SQL, an error with a cause on the next line) is escaped so
//! the event stays on its line.

use std::io::{IsTerminal, Write};

use clap::ValueEnum;
use serde::Deserialize;
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::time::{FormatTime, SystemTime};
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, FormattedFields, MakeWriter};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::EnvFilter;

/// The AWS credential chain logs a warning for every provider it tries;
/// our own start-up error says what is missing, so keep those quiet.
const QUIET_AWS: &str = "aws_config=error";

/// How each log event is written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// `TIME LEVEL target: message key=value`, for people.
    #[default]
    Text,
    /// One JSON object per line (timestamp, level, target, fields, spans),
    /// for log shippers.
    Json,
}

pub fn init(level: Option<&str>, format: LogFormat) {
    let filter = match level {
        Some(l) => EnvFilter::try_new(format!("{l},{QUIET_AWS}")),
        None => EnvFilter::try_from_default_env()
            .or_else(|_| EnvFilter::try_new(format!("info,{QUIET_AWS}"))),
    }
    .unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(OneLineStderr);
    match format {
        LogFormat::Text => builder
            .with_ansi(colour(&std::env::var_os("NO_COLOR")))
            .init(),
        LogFormat::Json => builder.with_ansi(false).event_format(JsonLines).init(),
    }
}

/// Colour only on a terminal, and not when `NO_COLOR` is set to anything
/// but the empty string (<https://no-color.org>).
fn colour(no_color: &Option<std::ffi::OsString>) -> bool {
    let refused = no_color.as_ref().is_some_and(|v| !v.is_empty());
    !refused && std::io::stderr().is_terminal()
}

/// `event` (one formatted event, ending in a line break) with every
/// line break before its end escaped as `\n` or `\r`, so it is one line.
fn one_line(event: &[u8]) -> std::borrow::Cow<'_, [u8]> {
    let body = event.strip_suffix(b"\n").unwrap_or(event);
    if !body.iter().any(|b| matches!(b, b'\n' | b'\r')) {
        return event.into();
    }
    let mut out = Vec::with_capacity(event.len() + 8);
    for &b in body {
        match b {
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            other => out.push(other),
        }
    }
    if body.len() < event.len() {
        out.push(b'\n');
    }
    out.into()
}

/// Stderr through [`one_line`]. tracing-subscriber formats each event
/// into one buffer and hands it over in one `write_all`, so every write
/// here is a whole event.
struct OneLineStderr;

impl<'a> MakeWriter<'a> for OneLineStderr {
    type Writer = OneLineWriter;
    fn make_writer(&'a self) -> Self::Writer {
        OneLineWriter
    }
}

struct OneLineWriter;

impl Write for OneLineWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        std::io::stderr().lock().write_all(&one_line(buf))?;
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}

/// One JSON object per event: `timestamp` (RFC 3339, UTC), `level`,
/// `target`, the event's `fields` (its message among them) and the
/// enclosing `spans`, outermost first, each with its name and its fields
/// as text.
struct JsonLines;

impl<S, N> FormatEvent<S, N> for JsonLines
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> std::fmt::Result {
        let mut timestamp = String::new();
        SystemTime.format_time(&mut Writer::new(&mut timestamp))?;
        let mut fields = JsonFields::default();
        event.record(&mut fields);
        let spans: Vec<serde_json::Value> = ctx
            .event_scope()
            .into_iter()
            .flat_map(|scope| scope.from_root())
            .map(|span| {
                let extensions = span.extensions();
                let text = extensions
                    .get::<FormattedFields<N>>()
                    .map(|f| f.fields.clone())
                    .unwrap_or_default();
                serde_json::json!({ "name": span.name(), "fields": text })
            })
            .collect();
        let meta = event.metadata();
        let line = serde_json::json!({
            "timestamp": timestamp,
            "level": meta.level().as_str(),
            "target": meta.target(),
            "fields": fields.0,
            "spans": spans,
        });
        writeln!(writer, "{line}")
    }
}

/// An event's fields as a JSON object: numbers and booleans as such,
/// everything else as its text.
#[derive(Default)]
struct JsonFields(serde_json::Map<String, serde_json::Value>);

impl Visit for JsonFields {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.0.insert(field.name().into(), value.to_string().into());
    }
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0
            .insert(field.name().into(), format!("{value:?}").into());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_stay_on_one_line() {
        let cases: [(&str, &str); 6] = [
            ("plain\n", "plain\n"),
            ("no newline", "no newline"),
            ("SELECT *\nFROM t\n", "SELECT *\\nFROM t\n"),
            ("a\r\nb\n", "a\\r\\nb\n"),
            ("trailing two\n\n", "trailing two\\n\n"),
            ("", ""),
        ];
        for (event, want) in cases {
            assert_eq!(
                String::from_utf8_lossy(&one_line(event.as_bytes())),
                want,
                "{event:?}"
            );
        }
    }

    #[test]
    fn no_color_set_to_anything_refuses_colour() {
        // The tests' stderr is not a terminal under cargo test's capture
        // either way; what is checked is that NO_COLOR alone forbids it.
        assert!(!colour(&Some("1".into())));
        assert!(!colour(&Some("false".into())));
    }

    #[test]
    fn json_lines_are_json_with_the_fields() {
        use std::sync::{Arc, Mutex};
        #[derive(Clone, Default)]
        struct Buf(Arc<Mutex<Vec<u8>>>);
        impl Write for Buf {
            fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
                self.0.lock().unwrap().extend_from_slice(b);
                Ok(b.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let buf = Buf::default();
        let writer = buf.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_ansi(false)
            .event_format(JsonLines)
            .with_writer(move || writer.clone())
            .finish();
        tracing::subscriber::with_default(subscriber, || {
            let span = tracing::info_span!("rpc", method = "/x");
            let _in = span.enter();
            tracing::warn!(rows = 3u64, sql = "SELECT 1\nFROM t", "query done");
        });
        let text = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
        assert_eq!(text.lines().count(), 1, "{text}");
        let v: serde_json::Value = serde_json::from_str(text.trim_end()).unwrap();
        assert_eq!(v["level"], "WARN");
        assert_eq!(v["fields"]["message"], "query done");
        assert_eq!(v["fields"]["rows"], 3);
        assert_eq!(v["fields"]["sql"], "SELECT 1\nFROM t");
        assert_eq!(v["spans"][0]["name"], "rpc");
        assert!(v["timestamp"].as_str().unwrap().ends_with('Z'), "{v}");
    }
}
