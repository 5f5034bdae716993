//! The text of a table cell: escaped, measured in terminal columns, cut to
//! a width.

use std::fmt::Write;

use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

/// What a cut cell ends with.
const ELLIPSIS: char = '…';

/// The narrowest a column is cut to: a few characters and the ellipsis
/// still say what the column holds.
pub const MIN_CUT_WIDTH: usize = 5;

/// Appends `raw` to `out` with control characters written as escapes
/// (`\t`, `\n`, `\r`, `\x1b`, ...). A tab or newline inside a log message
/// would break the table's alignment, and an escape sequence in a message
/// would be obeyed by the terminal; backslashes are left alone so JSON
/// messages read as they are (the exact text is in `--format csv|json`).
pub fn escape_into(raw: &str, out: &mut String) {
    if !raw.chars().any(char::is_control) {
        out.push_str(raw);
        return;
    }
    for c in raw.chars() {
        match c {
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() && (c as u32) < 0x100 => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c if c.is_control() => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
}

/// Terminal columns `s` takes (wide CJK characters take two).
pub fn width(s: &str) -> usize {
    if s.is_ascii() {
        s.len()
    } else {
        s.width()
    }
}

/// `s` and its width, cut to at most `max` columns with an ellipsis as the
/// last one when it is wider.
pub fn truncate(s: &str, max: usize) -> (&str, usize, bool) {
    let full = width(s);
    if full <= max {
        return (s, full, false);
    }
    let room = max.saturating_sub(1);
    let mut used = 0;
    let mut end = 0;
    for (i, c) in s.char_indices() {
        let w = c.width().unwrap_or(0);
        if used + w > room {
            break;
        }
        used += w;
        end = i + c.len_utf8();
    }
    (&s[..end], used + 1, true)
}

/// Appends `s` cut to `max` columns (see [`truncate`]) and padded with
/// spaces to exactly `max`.
pub fn push_cut(out: &mut String, s: &str, max: usize) {
    let (kept, used, cut) = truncate(s, max);
    out.push_str(kept);
    if cut {
        out.push(ELLIPSIS);
    }
    pad(out, max.saturating_sub(used));
}

/// Appends `n` spaces.
pub fn pad(out: &mut String, mut n: usize) {
    const SPACES: &str = "                                                                ";
    while n > 0 {
        let k = n.min(SPACES.len());
        out.push_str(&SPACES[..k]);
        n -= k;
    }
}

/// Column widths that fit a line of `total` columns, where each column
/// costs `overhead` columns of borders beyond its cells (plus one for the
/// line's last border). Narrow columns keep their width; the widest share
/// what is left equally, never below [`MIN_CUT_WIDTH`] (a table that cannot
/// fit even then is wider than the terminal).
pub fn fit(natural: &[usize], total: usize, overhead: usize) -> Vec<usize> {
    let n = natural.len();
    let borders = overhead * n + 1;
    let room = total.saturating_sub(borders);
    if natural.iter().sum::<usize>() <= room {
        return natural.to_vec();
    }
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by_key(|&i| natural[i]);
    let mut left = room;
    let mut widths = natural.to_vec();
    for (k, &i) in order.iter().enumerate() {
        let share = left / (n - k);
        if natural[i] <= share {
            left -= natural[i];
            continue;
        }
        // This column and every wider one get an equal share; the
        // remainder goes one each to the first of them.
        let capped = &order[k..];
        let extra = left - share * capped.len();
        for (j, &c) in capped.iter().enumerate() {
            let w = share + usize::from(j < extra);
            widths[c] = w.max(MIN_CUT_WIDTH).min(natural[c]);
        }
        break;
    }
    widths
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_control_characters_only() {
        let cases = [
            ("plain", "plain"),
            ("a\tb", "a\\tb"),
            ("line1\nline2\r\n", "line1\\nline2\\r\\n"),
            ("\x1b[31mred", "\\x1b[31mred"),
            ("back\\slash", "back\\slash"),
            ("nel\u{85}", "nel\\x85"),
            ("é 日本", "é 日本"),
        ];
        for (raw, want) in cases {
            let mut out = String::new();
            escape_into(raw, &mut out);
            assert_eq!(out, want, "{raw:?}");
        }
    }

    #[test]
    fn cuts_to_a_width_with_an_ellipsis() {
        let cases = [
            ("hello", 10, "hello     "),
            ("hello", 5, "hello"),
            ("hello world", 5, "hell…"),
            ("日本語テキスト", 5, "日本…"),
            ("日本語", 4, "日… "),
            ("日本語", 6, "日本語"),
            ("abc", 1, "…"),
        ];
        for (s, max, want) in cases {
            let mut out = String::new();
            push_cut(&mut out, s, max);
            assert_eq!(out, want, "{s:?} to {max}");
            assert_eq!(width(&out), max, "{s:?} to {max}");
        }
    }

    #[test]
    fn fits_columns_to_a_line() {
        // (natural widths, line width, want); overhead 3 per column + 1.
        let cases: [(&[usize], usize, &[usize]); 5] = [
            (&[5, 10], 80, &[5, 10]),
            // 2 columns: 7 of borders, 33 of room; the wide one takes the rest.
            (&[5, 100], 40, &[5, 28]),
            // Two wide columns share the room equally, remainder to the first.
            (&[4, 50, 60], 50, &[4, 18, 18]),
            (&[4, 50, 60], 51, &[4, 19, 18]),
            // Never below the minimum, even past the line.
            (&[30, 30], 10, &[MIN_CUT_WIDTH, MIN_CUT_WIDTH]),
        ];
        for (natural, total, want) in cases {
            assert_eq!(fit(natural, total, 3), want, "{natural:?} in {total}");
        }
    }
}
