//! The width of the terminal `logflight query` prints its table on.

use std::io::IsTerminal;

/// Columns of the terminal on stdout, or `None` when stdout is not a
/// terminal (a file or a pipe has no width: nothing is cut there).
/// `COLUMNS`, when set, wins, as for `ls`; a terminal that does not say
/// its size counts as 80 columns.
pub fn stdout_width() -> Option<usize> {
    if !std::io::stdout().is_terminal() {
        return None;
    }
    let from_env = std::env::var("COLUMNS").ok().and_then(|c| c.parse().ok());
    Some(
        from_env
            .or_else(window_columns)
            .filter(|&c| c > 0)
            .unwrap_or(80),
    )
}

fn window_columns() -> Option<usize> {
    // SAFETY: TIOCGWINSZ writes one `winsize` through the pointer, which
    // points at a live, writable one; on failure it writes nothing.
    let mut size: libc::winsize = unsafe { std::mem::zeroed() };
    let ok = unsafe { libc::ioctl(libc::STDOUT_FILENO, libc::TIOCGWINSZ, &mut size) } == 0;
    (ok && size.ws_col > 0).then_some(usize::from(size.ws_col))
}
