//! The progress line `logflight query` keeps on stderr while a scan runs.
//!
//! A scan paced by CloudWatch's quotas can take minutes; without a sign of
//! life a user cannot tell a slow scan from a hung one. The line appears only
//! after a second (fast queries print nothing extra) and only when stderr is
//! a terminal: redirected stderr is for errors, and a script capturing it must
//! not find carriage-return noise there.

use std::io::Write;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::query::QueryEngine;

/// How long a query runs before the line appears.
const QUIET_FOR: Duration = Duration::from_secs(1);
/// How often the line is redrawn.
const REDRAW_EVERY: Duration = Duration::from_millis(250);

/// What the line shows, summed over every catalog of the engine.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Snapshot {
    pub events: u64,
    pub bytes: u64,
    pub api_calls: u64,
    pub throttled: u64,
}

impl Snapshot {
    pub fn take(engine: &QueryEngine) -> Self {
        let mut s = Snapshot::default();
        for catalog in engine.catalogs() {
            let totals = catalog.scan_totals();
            s.events += totals.events_fetched.load(Ordering::Relaxed);
            s.bytes += totals.bytes_fetched.load(Ordering::Relaxed);
            if let Some(quota) = catalog.source().quota() {
                for (_, outcome, n) in quota.call_counts() {
                    s.api_calls += n;
                    if outcome == "throttled" {
                        s.throttled += n;
                    }
                }
            }
        }
        s
    }

    /// Counts since `start` (the engine's totals are process-wide).
    fn since(self, start: Snapshot) -> Self {
        Snapshot {
            events: self.events.saturating_sub(start.events),
            bytes: self.bytes.saturating_sub(start.bytes),
            api_calls: self.api_calls.saturating_sub(start.api_calls),
            throttled: self.throttled.saturating_sub(start.throttled),
        }
    }
}

/// The text of the line (without the terminal control codes).
pub fn render(s: Snapshot, elapsed: Duration) -> String {
    format!(
        "scanning: {} events ({}), {} API calls, {} throttled, {:.1}s",
        group_thousands(s.events),
        human_bytes(s.bytes),
        group_thousands(s.api_calls),
        group_thousands(s.throttled),
        elapsed.as_secs_f64()
    )
}

pub fn group_thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `n` and the noun, plural unless one: "1 day", "3,900 events".
pub fn counted(n: u64, noun: &str) -> String {
    let s = if n == 1 { "" } else { "s" };
    format!("{} {noun}{s}", group_thousands(n))
}

pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if n < 1024 {
        return format!("{n} B");
    }
    let mut value = n as f64;
    let mut unit = "B";
    for u in UNITS {
        if value < 1024.0 {
            break;
        }
        value /= 1024.0;
        unit = u;
    }
    format!("{value:.1} {unit}")
}

fn draw(text: &str) {
    let mut err = std::io::stderr().lock();
    let _ = err.write_all(text.as_bytes());
    let _ = err.flush();
}

/// A running progress line; [`Progress::finish`] erases it.
pub struct Progress {
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl Progress {
    /// Starts the line if stderr is a terminal; otherwise does nothing.
    pub fn start(engine: &QueryEngine, stderr_is_terminal: bool) -> Self {
        if !stderr_is_terminal {
            return Progress {
                stop: None,
                task: None,
            };
        }
        let engine = engine.clone();
        let (stop, mut stopped) = oneshot::channel();
        let task = tokio::spawn(async move {
            let began = Instant::now();
            let start = Snapshot::take(&engine);
            tokio::select! {
                _ = tokio::time::sleep(QUIET_FOR) => {}
                _ = &mut stopped => return,
            }
            let mut ticker = tokio::time::interval(REDRAW_EVERY);
            loop {
                let line = render(Snapshot::take(&engine).since(start), began.elapsed());
                // \r: back to the line's start; ESC[K: erase what a longer
                // previous line left.
                draw(&format!("\r{line}\x1b[K"));
                tokio::select! {
                    _ = ticker.tick() => {}
                    _ = &mut stopped => break,
                }
            }
            draw("\r\x1b[K");
        });
        Progress {
            stop: Some(stop),
            task: Some(task),
        }
    }

    /// Stops and erases the line, so results and errors start on a clean line.
    pub async fn finish(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counts_sizes_and_time() {
        let cases = [
            (
                Snapshot::default(),
                0.0,
                "scanning: 0 events (0 B), 0 API calls, 0 throttled, 0.0s",
            ),
            (
                Snapshot {
                    events: 1_234_567,
                    bytes: 5 * 1024 * 1024 + 512 * 1024,
                    api_calls: 1_000,
                    throttled: 3,
                },
                12.34,
                "scanning: 1,234,567 events (5.5 MiB), 1,000 API calls, 3 throttled, 12.3s",
            ),
            (
                Snapshot {
                    events: 999,
                    bytes: 1023,
                    api_calls: 12,
                    throttled: 0,
                },
                1.05,
                "scanning: 999 events (1023 B), 12 API calls, 0 throttled, 1.1s",
            ),
            (
                Snapshot {
                    events: 100_000,
                    bytes: 3 * 1024 * 1024 * 1024,
                    api_calls: 0,
                    throttled: 0,
                },
                2.0,
                "scanning: 100,000 events (3.0 GiB), 0 API calls, 0 throttled, 2.0s",
            ),
        ];
        for (snapshot, secs, want) in cases {
            assert_eq!(render(snapshot, Duration::from_secs_f64(secs)), want);
        }
    }

    #[test]
    fn counts_are_taken_since_the_query_began() {
        let before = Snapshot {
            events: 10,
            bytes: 100,
            api_calls: 2,
            throttled: 1,
        };
        let now = Snapshot {
            events: 25,
            bytes: 150,
            api_calls: 7,
            throttled: 1,
        };
        assert_eq!(
            now.since(before),
            Snapshot {
                events: 15,
                bytes: 50,
                api_calls: 5,
                throttled: 0
            }
        );
    }
}
