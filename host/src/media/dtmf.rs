//! DTMF as it reaches the host (SPEC §3, issue #4 "DTMF in"): RFC 4733 telephone events
//! in the RTP stream, and SIP INFO bodies (`application/dtmf-relay`, `application/dtmf`)
//! as many phones send them. Both become the same digit characters: `0`–`9`, `*`, `#`,
//! `A`–`D`.
//!
//! An RFC 4733 event is sent as several packets sharing one RTP timestamp (the event's
//! start), the last three usually repeated with the end bit. [`EventDetector`] reports a
//! digit once, on the first packet of an event it has not seen, so a lost end packet
//! neither loses nor repeats the digit.

/// The digit of an RFC 4733 §3.2 DTMF event code.
pub fn event_digit(event: u8) -> Option<char> {
    match event {
        0..=9 => Some(char::from(b'0' + event)),
        10 => Some('*'),
        11 => Some('#'),
        12..=15 => Some(char::from(b'A' + event - 12)),
        _ => None,
    }
}

/// The payload of a telephone-event packet (RFC 4733 §2.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TelephoneEvent {
    pub event: u8,
    pub end: bool,
    pub volume: u8,
    /// In timestamp units (1/8000 s for telephone-event/8000).
    pub duration: u16,
}

/// Read a telephone-event payload; `None` when shorter than its 4 bytes.
pub fn parse_event(payload: &[u8]) -> Option<TelephoneEvent> {
    let bytes: [u8; 4] = payload.get(..4)?.try_into().ok()?;
    Some(TelephoneEvent {
        event: bytes[0],
        end: bytes[1] & 0x80 != 0,
        volume: bytes[1] & 0x3F,
        duration: u16::from_be_bytes([bytes[2], bytes[3]]),
    })
}

/// Turns one stream's telephone-event packets into digits, once per event.
#[derive(Debug, Default)]
pub struct EventDetector {
    /// (RTP timestamp, event) of the last event reported.
    last: Option<(u32, u8)>,
}

impl EventDetector {
    /// A telephone-event packet with RTP timestamp `timestamp` arrived: the digit when it
    /// starts an event not reported yet.
    pub fn on_event(&mut self, timestamp: u32, payload: &[u8]) -> Option<char> {
        let event = parse_event(payload)?;
        let digit = event_digit(event.event)?;
        if self.last == Some((timestamp, event.event)) {
            return None;
        }
        self.last = Some((timestamp, event.event));
        Some(digit)
    }
}

/// The digit of a SIP INFO request, from its Content-Type and body; `None` when the INFO
/// carries something else.
///
/// - `application/dtmf-relay` (Cisco style, most phones): `Signal=5\r\nDuration=160`;
/// - `application/dtmf`: the digit alone.
pub fn info_digit(content_type: &str, body: &[u8]) -> Option<char> {
    let media_type = content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    let body = std::str::from_utf8(body).ok()?;
    let signal = match media_type.as_str() {
        "application/dtmf-relay" => body.lines().find_map(|line| {
            let (name, value) = line.split_once('=')?;
            name.trim().eq_ignore_ascii_case("signal").then(|| value.trim())
        })?,
        "application/dtmf" => body.trim(),
        _ => return None,
    };
    let mut chars = signal.chars();
    let digit = chars.next()?.to_ascii_uppercase();
    if chars.next().is_some() {
        // Some phones send the event code ("10" for *, "11" for #).
        return signal.parse::<u8>().ok().and_then(event_digit);
    }
    matches!(digit, '0'..='9' | '*' | '#' | 'A'..='D').then_some(digit)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn payload(event: u8, end: bool, duration: u16) -> [u8; 4] {
        let [high, low] = duration.to_be_bytes();
        [event, if end { 0x80 | 10 } else { 10 }, high, low]
    }

    #[test]
    fn an_event_with_its_repeated_end_packets_is_one_digit() {
        let mut detector = EventDetector::default();
        let mut digits = Vec::new();
        for (duration, end) in
            [(160, false), (320, false), (480, false), (640, true), (640, true), (640, true)]
        {
            digits.extend(detector.on_event(1000, &payload(5, end, duration)));
        }
        assert_eq!(digits, vec!['5']);
    }

    #[test]
    fn the_same_digit_twice_is_two_events_by_timestamp() {
        let mut detector = EventDetector::default();
        assert_eq!(detector.on_event(1000, &payload(1, false, 160)), Some('1'));
        assert_eq!(detector.on_event(1000, &payload(1, true, 800)), None);
        assert_eq!(
            detector.on_event(2600, &payload(1, true, 800)),
            Some('1'),
            "start packets lost: the end still counts"
        );
    }

    #[test]
    fn event_codes_map_to_keypad_digits() {
        let digits: String = (0..=16).filter_map(event_digit).collect();
        assert_eq!(digits, "0123456789*#ABCD");
        assert_eq!(parse_event(&[1, 2, 3]), None);
    }

    #[test]
    fn info_bodies_of_both_common_kinds_give_the_digit() {
        assert_eq!(info_digit("application/dtmf-relay", b"Signal=5\r\nDuration=160\r\n"), Some('5'));
        assert_eq!(info_digit("Application/DTMF-Relay; charset=x", b"signal= #\r\nDuration=100"), Some('#'));
        assert_eq!(info_digit("application/dtmf-relay", b"Signal=11\r\n"), Some('#'));
        assert_eq!(info_digit("application/dtmf", b"*"), Some('*'));
        assert_eq!(info_digit("application/dtmf", b"x"), None);
        assert_eq!(info_digit("application/sdp", b"v=0"), None);
        assert_eq!(info_digit("application/dtmf-relay", b"Duration=160"), None);
        assert_eq!(info_digit("application/dtmf-relay", &[0xFF, 0xFE]), None);
    }
}
