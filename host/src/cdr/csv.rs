//! CDRs as CSV (RFC 4180): a header row, CRLF line ends, fields quoted when they hold a
//! comma, a quote, CR or LF. A text field a spreadsheet would run as a formula (it starts
//! with `=`, `+`, `-`, `@`, tab or CR) gets a leading apostrophe, except a plain phone
//! number such as `+34910000000`, which is a legitimate caller id.

use chrono::SecondsFormat;
use chrono_tz::Tz;

use super::filter::{direction_name, status_name};
use crate::store::records::Cdr;

/// The header row's columns, in order.
pub const COLUMNS: [&str; 10] = [
    "date",
    "direction",
    "caller",
    "called",
    "destination",
    "status",
    "ring seconds",
    "talk seconds",
    "hangup cause",
    "call id",
];

/// `cdrs` as a CSV document, dates (when each call started) in `zone` with their offset.
pub fn to_csv(cdrs: &[Cdr], zone: Tz) -> String {
    // About 120 bytes per row.
    let mut out = String::with_capacity(128 * (cdrs.len() + 1));
    row(&mut out, COLUMNS);
    for cdr in cdrs {
        let date = cdr.started_at.with_timezone(&zone).to_rfc3339_opts(SecondsFormat::Secs, false);
        // Rounded to the nearest second.
        let ring_seconds = cdr.ring_ms.saturating_add(500) / 1000;
        row(
            &mut out,
            [
                date.as_str(),
                direction_name(cdr.direction),
                &cdr.caller,
                &cdr.called,
                cdr.destination.as_deref().unwrap_or(""),
                status_name(cdr.status),
                &ring_seconds.to_string(),
                &cdr.talk_s.to_string(),
                &cdr.hangup_cause,
                &cdr.call_id,
            ],
        );
    }
    out
}

fn row<'a>(out: &mut String, fields: impl IntoIterator<Item = &'a str>) {
    for (index, value) in fields.into_iter().enumerate() {
        if index > 0 {
            out.push(',');
        }
        field(out, value);
    }
    out.push_str("\r\n");
}

/// Append one field, defused and quoted as needed.
fn field(out: &mut String, value: &str) {
    let defuse = value.starts_with(['=', '+', '-', '@', '\t', '\r']) && !is_phone_number(value);
    let quote = value.contains([',', '"', '\r', '\n']);
    if quote {
        out.push('"');
    }
    if defuse {
        out.push('\'');
    }
    if quote {
        out.push_str(&value.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(value);
    }
}

/// Digits with an optional leading '+': nothing a spreadsheet could run.
fn is_phone_number(value: &str) -> bool {
    let digits = value.strip_prefix('+').unwrap_or(value);
    !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rendered(value: &str) -> String {
        let mut out = String::new();
        field(&mut out, value);
        out
    }

    #[test]
    fn fields_with_commas_quotes_or_line_breaks_are_quoted_with_doubled_quotes() {
        let table = [
            ("plain", "plain"),
            ("", ""),
            ("a,b", "\"a,b\""),
            ("say \"hi\"", "\"say \"\"hi\"\"\""),
            ("two\nlines", "\"two\nlines\""),
            ("cr\rhere", "\"cr\rhere\""),
            ("\"", "\"\"\"\""),
        ];
        for (value, expected) in table {
            assert_eq!(rendered(value), expected, "{value:?}");
        }
    }

    #[test]
    fn formula_starts_get_an_apostrophe_but_phone_numbers_do_not() {
        let table = [
            ("=1+2", "'=1+2"),
            ("+cmd|' /C calc'!A0", "'+cmd|' /C calc'!A0"),
            ("-2+3", "'-2+3"),
            ("@SUM(A1)", "'@SUM(A1)"),
            ("\tx", "'\tx"),
            ("\r=1", "\"'\r=1\""),
            ("=HYPERLINK(\"http://x\",\"y\")", "\"'=HYPERLINK(\"\"http://x\"\",\"\"y\"\")\""),
            ("+34910000000", "+34910000000"),
            ("34910000000", "34910000000"),
            ("+", "'+"),
            ("-", "'-"),
            ("+34 910", "'+34 910"),
            ("caller hung up", "caller hung up"),
            ("a=b", "a=b"),
        ];
        for (value, expected) in table {
            assert_eq!(rendered(value), expected, "{value:?}");
        }
    }
}
