//! The RTP fixed header (RFC 3550 §5.1), as far as the host reads and writes it: the
//! relay peeks at payload types (DTMF, audio to record) and the media clock writes the
//! packets of what the host plays. Nothing here panics on input.

/// Length of the fixed header without CSRCs or extension.
pub const HEADER_LEN: usize = 12;

/// The fields of a received packet the host uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RtpPacket<'a> {
    pub payload_type: u8,
    pub marker: bool,
    pub sequence: u16,
    pub timestamp: u32,
    pub ssrc: u32,
    pub payload: &'a [u8],
}

/// Read `packet` as RTP version 2; `None` when it is not (RTCP on the RTP port, STUN,
/// garbage, a truncated header or padding that claims more than the packet holds).
pub fn parse(packet: &[u8]) -> Option<RtpPacket<'_>> {
    let first = *packet.first()?;
    if first >> 6 != 2 || packet.len() < HEADER_LEN {
        return None;
    }
    let second = packet[1];
    let payload_type = second & 0x7F;
    // 72–76 are RTCP packet types (RFC 5761 §4) when RTCP shares the port.
    if (72..=76).contains(&payload_type) {
        return None;
    }
    let csrc_count = usize::from(first & 0x0F);
    let mut start = HEADER_LEN + 4 * csrc_count;
    if first & 0x10 != 0 {
        let extension = packet.get(start..start + 4)?;
        start += 4 + 4 * usize::from(u16::from_be_bytes([extension[2], extension[3]]));
    }
    let mut end = packet.len();
    if first & 0x20 != 0 {
        end = end.checked_sub(usize::from(*packet.last()?))?;
    }
    let payload = packet.get(start..end)?;
    Some(RtpPacket {
        payload_type,
        marker: second & 0x80 != 0,
        sequence: u16::from_be_bytes([packet[2], packet[3]]),
        timestamp: u32::from_be_bytes([packet[4], packet[5], packet[6], packet[7]]),
        ssrc: u32::from_be_bytes([packet[8], packet[9], packet[10], packet[11]]),
        payload,
    })
}

/// Write a fixed header (no CSRC, no extension, no padding) into `out[..HEADER_LEN]`.
pub fn write_header(
    out: &mut [u8; HEADER_LEN],
    payload_type: u8,
    marker: bool,
    sequence: u16,
    timestamp: u32,
    ssrc: u32,
) {
    out[0] = 0x80;
    out[1] = (payload_type & 0x7F) | if marker { 0x80 } else { 0 };
    out[2..4].copy_from_slice(&sequence.to_be_bytes());
    out[4..8].copy_from_slice(&timestamp.to_be_bytes());
    out[8..12].copy_from_slice(&ssrc.to_be_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_written_header_parses_back() {
        let mut packet = vec![0u8; HEADER_LEN + 3];
        let header: &mut [u8; HEADER_LEN] = (&mut packet[..HEADER_LEN]).try_into().unwrap();
        write_header(header, 8, true, 65535, 0xDEADBEEF, 42);
        packet[HEADER_LEN..].copy_from_slice(&[1, 2, 3]);
        let parsed = parse(&packet).unwrap();
        assert_eq!(
            parsed,
            RtpPacket {
                payload_type: 8,
                marker: true,
                sequence: 65535,
                timestamp: 0xDEADBEEF,
                ssrc: 42,
                payload: &[1, 2, 3]
            }
        );
    }

    #[test]
    fn csrcs_extension_and_padding_are_skipped() {
        // 1 CSRC, an extension of one word, 2 bytes of padding.
        let mut packet = vec![0xB1, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3];
        packet.extend([0, 0, 0, 9]); // CSRC
        packet.extend([0xBE, 0xDE, 0, 1, 1, 2, 3, 4]); // extension header + one word
        packet.extend([7, 7]); // payload
        packet.extend([0, 2]); // padding, last byte = count
        assert_eq!(parse(&packet).unwrap().payload, &[7, 7]);
    }

    #[test]
    fn what_is_not_rtp_is_refused_without_panicking() {
        assert_eq!(parse(&[]), None);
        assert_eq!(parse(&[0x80, 0, 0]), None);
        assert_eq!(parse(&[0x40; 20]), None, "version 1");
        assert_eq!(parse(&[0x80, 200, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]), None, "RTCP sender report");
        assert_eq!(parse(&[0x8F; 12]), None, "15 CSRCs announced, none present");
        assert_eq!(parse(&[0xA0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 200]), None, "padding longer than the packet");
        for seed in 0..2000u32 {
            let length = (seed % 40) as usize;
            let bytes: Vec<u8> = (0..length)
                .map(|i| (seed.wrapping_mul(2654435761).rotate_left(i as u32) & 0xFF) as u8)
                .collect();
            let _ = parse(&bytes);
        }
    }
}
