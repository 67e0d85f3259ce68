"""SIP over UDP in a packet capture (tcpdump -w on the loopback), read by the bench scripts.

The kernel stamps each packet as it crosses the interface, so the times are when a message
was really sent and received, not when a busy sipp got round to logging it (sipp's own
message trace, bench/sipp/sipp_trace.py, adds sipp's scheduling to every figure).
`first_stamps` gives, per Call-ID, when the first message of a kind left or reached a port.
Reads classic pcap files (microsecond stamps) of Ethernet (the loopback) or Linux cooked
captures, IPv4 only.
"""
import struct

ETHERNET, LINUX_SLL = 1, 113


def packets(path):
    """(seconds, source port, destination port, UDP payload) of each IPv4 UDP packet."""
    with open(path, "rb") as capture:
        header = capture.read(24)
        magic = struct.unpack("<I", header[:4])[0]
        order = "<" if magic == 0xA1B2C3D4 else ">"
        linktype = struct.unpack(order + "I", header[20:24])[0]
        link_bytes = {ETHERNET: 14, LINUX_SLL: 16}[linktype]
        record = struct.Struct(order + "IIII")
        while True:
            head = capture.read(16)
            if len(head) < 16:
                return
            seconds, micros, length, _ = record.unpack(head)
            data = capture.read(length)
            ip = data[link_bytes:]
            if len(ip) < 28 or ip[0] >> 4 != 4 or ip[9] != 17:
                continue
            udp = ip[(ip[0] & 0x0F) * 4 :]
            source, destination = struct.unpack("!HH", udp[:4])
            yield seconds + micros / 1e6, source, destination, udp[8:]


def header(payload, *names):
    """The first value of the header called one of `names` (lower case, compact forms
    included), or None."""
    wanted = {name.encode() for name in names}
    for line in payload.split(b"\r\n")[1:]:
        if not line:
            return None
        name, _, value = line.partition(b":")
        if name.strip().lower() in wanted:
            return value.strip().decode(errors="replace")
    return None


def call_id(payload):
    return header(payload, "call-id", "i")


def from_user(payload):
    """The user part of the From URI: `34600123` of `"X" <sip:34600123@host>;tag=1`."""
    value = header(payload, "from", "f") or ""
    return value.partition("sip:")[2].partition("@")[0] or None


def first_stamps(path, wanted):
    """{kind: {call_id: unix seconds}} for `wanted` = {kind: (source port, destination port,
    start-line prefix)}: the first such packet per call (not a retransmission)."""
    found = {kind: {} for kind in wanted}
    for when, source, destination, payload in packets(path):
        for kind, (from_port, to_port, prefix) in wanted.items():
            if source == from_port and destination == to_port and payload.startswith(prefix.encode()):
                identity = call_id(payload)
                if identity:
                    found[kind].setdefault(identity, when)
    return found
