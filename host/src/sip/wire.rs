//! The wire: bytes from a transport to parsed SIP messages (RFC 3261 §7 and §18.3).
//!
//! rsip parses and prints, but it reads the body as "everything after the blank line",
//! knows no compact header names, and refuses folded header lines and bare-LF line ends.
//! This module fixes the bytes up first, then hands them to rsip:
//!
//! - **framing**: on a stream (TCP, TLS) `Content-Length` is required and delimits each
//!   message ([`StreamFramer`]); in a datagram a body longer than `Content-Length` is cut
//!   and a shorter one is refused ([`parse_datagram`]); CRLF keep-alives (RFC 5626 §4.4.1)
//!   are recognised;
//! - **normalising**: bare LF becomes CRLF, folded lines are unfolded, compact header
//!   names (`i: f: t: v: m: c: l: k: s: e: o: r: b: u: x:`) are expanded.
//!
//! Nothing here panics on input: every malformed message is a [`WireError`] that says
//! what is wrong, for a 400 response or a log line.

use rsip::SipMessage;

/// Largest message accepted, headers and body (RFC 3261 leaves it to the implementation;
/// 64 KiB is far above any real INVITE and bounds what one peer can make us buffer).
pub const MAX_MESSAGE: usize = 64 * 1024;

/// Why bytes are not a usable SIP message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    #[error("message larger than {MAX_MESSAGE} bytes")]
    TooLarge,
    #[error("no blank line ends the headers")]
    NoHeaderEnd,
    #[error("Content-Length {0:?} is not a number")]
    BadContentLength(String),
    #[error("Content-Length is {declared} but only {available} body bytes arrived")]
    TruncatedBody { declared: usize, available: usize },
    #[error("a stream message needs a Content-Length header")]
    MissingContentLength,
    #[error("headers are not UTF-8")]
    NotUtf8,
    #[error("a folded line continues no header")]
    FoldWithoutHeader,
    #[error("unparsable SIP: {0}")]
    Parse(String),
}

/// What a datagram or a framed stream chunk turned out to be.
#[derive(Debug)]
pub enum Received {
    /// A SIP request or response.
    Message(Box<SipMessage>),
    /// A CRLF keep-alive ping ("\r\n\r\n"); answer with a single CRLF on streams.
    KeepAlive,
}

/// Compact header forms (RFC 3261 §7.3.3, and the extensions that define one).
const COMPACT_NAMES: &[(u8, &str)] = &[
    (b'a', "Accept-Contact"),
    (b'b', "Referred-By"),
    (b'c', "Content-Type"),
    (b'd', "Request-Disposition"),
    (b'e', "Content-Encoding"),
    (b'f', "From"),
    (b'i', "Call-ID"),
    (b'j', "Reject-Contact"),
    (b'k', "Supported"),
    (b'l', "Content-Length"),
    (b'm', "Contact"),
    (b'o', "Event"),
    (b'r', "Refer-To"),
    (b's', "Subject"),
    (b't', "To"),
    (b'u', "Allow-Events"),
    (b'v', "Via"),
    (b'x', "Session-Expires"),
    (b'y', "Identity"),
];

/// Where the headers end: the index just past the blank line, and the length of the
/// header block before it. Accepts CRLF and bare LF line ends.
fn header_end(bytes: &[u8]) -> Option<(usize, usize)> {
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\n' {
            // "\n\n" or "\n\r\n" ends the headers.
            if bytes.get(i + 1) == Some(&b'\n') {
                return Some((i + 2, i + 1));
            }
            if bytes.get(i + 1) == Some(&b'\r') && bytes.get(i + 2) == Some(&b'\n') {
                return Some((i + 3, i + 1));
            }
        }
        i += 1;
    }
    None
}

/// Normalised header lines (CRLF-free), unfolded, compact names expanded.
fn header_lines(block: &str) -> Result<Vec<String>, WireError> {
    let mut lines: Vec<String> = Vec::new();
    for raw in block.split('\n') {
        let line = raw.strip_suffix('\r').unwrap_or(raw);
        if line.is_empty() {
            continue;
        }
        if line.starts_with([' ', '\t']) {
            // A folded line (RFC 3261 §7.3.1) continues the previous header; the start
            // line cannot be continued.
            let headers_so_far = lines.len();
            match lines.last_mut() {
                Some(previous) if headers_so_far > 1 => {
                    previous.push(' ');
                    previous.push_str(line.trim_start());
                }
                _ => return Err(WireError::FoldWithoutHeader),
            }
            continue;
        }
        lines.push(if lines.is_empty() { line.to_string() } else { expand_compact(line) });
    }
    Ok(lines)
}

fn expand_compact(line: &str) -> String {
    let Some((name, value)) = line.split_once(':') else {
        return line.to_string();
    };
    let name = name.trim_end();
    if let [letter] = name.as_bytes()
        && let Some((_, full)) = COMPACT_NAMES.iter().find(|(short, _)| *short == letter.to_ascii_lowercase())
    {
        return format!("{full}:{value}");
    }
    line.to_string()
}

/// The value of the Content-Length header among `lines`, if any.
fn content_length(lines: &[String]) -> Result<Option<usize>, WireError> {
    for line in lines.iter().skip(1) {
        if let Some((name, value)) = line.split_once(':')
            && name.trim().eq_ignore_ascii_case("content-length")
        {
            let value = value.trim();
            return value.parse().map(Some).map_err(|_| WireError::BadContentLength(value.to_string()));
        }
    }
    Ok(None)
}

/// Rebuild a message from normalised header lines and its body, and parse it.
fn assemble(lines: &[String], body: &[u8]) -> Result<SipMessage, WireError> {
    let mut bytes = Vec::with_capacity(lines.iter().map(|l| l.len() + 2).sum::<usize>() + 2 + body.len());
    for line in lines {
        bytes.extend_from_slice(line.as_bytes());
        bytes.extend_from_slice(b"\r\n");
    }
    bytes.extend_from_slice(b"\r\n");
    bytes.extend_from_slice(body);
    SipMessage::try_from(bytes.as_slice()).map_err(|e| WireError::Parse(e.to_string()))
}

fn is_keep_alive(bytes: &[u8]) -> bool {
    !bytes.is_empty() && bytes.iter().all(|b| *b == b'\r' || *b == b'\n')
}

/// Parse one UDP datagram (RFC 3261 §18.3: a body longer than Content-Length is cut to
/// it; a shorter one is an error; without Content-Length the body is the rest).
pub fn parse_datagram(bytes: &[u8]) -> Result<Received, WireError> {
    if bytes.len() > MAX_MESSAGE {
        return Err(WireError::TooLarge);
    }
    if is_keep_alive(bytes) {
        return Ok(Received::KeepAlive);
    }
    let (body_start, block_len) = header_end(bytes).ok_or(WireError::NoHeaderEnd)?;
    let block = std::str::from_utf8(&bytes[..block_len]).map_err(|_| WireError::NotUtf8)?;
    let lines = header_lines(block)?;
    let available = &bytes[body_start..];
    let body = match content_length(&lines)? {
        None => available,
        Some(declared) if declared <= available.len() => &available[..declared],
        Some(declared) => return Err(WireError::TruncatedBody { declared, available: available.len() }),
    };
    Ok(Received::Message(Box::new(assemble(&lines, body)?)))
}

/// Splits a byte stream (TCP, TLS) into messages by their Content-Length.
#[derive(Debug, Default)]
pub struct StreamFramer {
    buffer: Vec<u8>,
}

impl StreamFramer {
    /// A framer with nothing buffered.
    pub fn new() -> StreamFramer {
        StreamFramer::default()
    }

    /// Add bytes read from the stream.
    pub fn push(&mut self, bytes: &[u8]) {
        self.buffer.extend_from_slice(bytes);
    }

    /// The next complete message, `Ok(None)` when more bytes are needed. After an error
    /// the stream cannot be resynchronised: close the connection.
    pub fn next_message(&mut self) -> Result<Option<Received>, WireError> {
        // Keep-alives between messages: "\r\n\r\n" is a ping, a lone "\r\n" a pong.
        let leading = self.buffer.iter().take_while(|b| **b == b'\r' || **b == b'\n').count();
        if leading > 0 {
            let ping = self.buffer[..leading].windows(4).any(|w| w == b"\r\n\r\n");
            self.buffer.drain(..leading);
            if ping {
                return Ok(Some(Received::KeepAlive));
            }
        }
        let Some((body_start, block_len)) = header_end(&self.buffer) else {
            return if self.buffer.len() > MAX_MESSAGE { Err(WireError::TooLarge) } else { Ok(None) };
        };
        let block = std::str::from_utf8(&self.buffer[..block_len]).map_err(|_| WireError::NotUtf8)?;
        let lines = header_lines(block)?;
        let length = content_length(&lines)?.ok_or(WireError::MissingContentLength)?;
        // `length` comes from the peer: compare before adding so a huge value cannot wrap.
        if length > MAX_MESSAGE - body_start.min(MAX_MESSAGE) {
            return Err(WireError::TooLarge);
        }
        if self.buffer.len() < body_start + length {
            return Ok(None);
        }
        let message = assemble(&lines, &self.buffer[body_start..body_start + length]);
        self.buffer.drain(..body_start + length);
        Ok(Some(Received::Message(Box::new(message?))))
    }
}

#[cfg(test)]
mod tests;
