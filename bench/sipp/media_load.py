"""bench/sipp/media_load.py: the call and RTP load generator of bench/media.sh.

Places CALLS calls and plays G.711 RTP both ways through each for SECONDS, then hangs
up, and prints what arrived: `calls=N sent=N received=N loss_pct=N latency_p50_ms=N
latency_p99_ms=N cpu_pct=N` (cpu_pct: the relay process's CPU over the media phase, in %
of one core, from /proc/PID/stat).

Two relays, by the first argument:
- `centralita SIP_PORT CALLER_PORT CALLEE_PORT DID PID`: a trunk provider on CALLER_PORT
  sends INVITEs to the DID; the callee, the extension the DID routes to, registered
  from CALLEE_PORT beforehand (sipp), answers here with 200. Plain SIP over UDP.
- `rtpengine NG_PORT PID`: the same calls set up with rtpengine's ng protocol (offer,
  answer, delete), no SIP.

All callers' media comes from one socket and all callees' from another; the relays latch
onto those sources. Each stream has its own SSRC and carries its send time (monotonic
ns) and its index in the payload, so the receiver counts every stream's packets and their
latency end to end. The index is read from the payload, not the SSRC: a relay may
renumber the header (Centralita gives each phone one continuous stream, RFC 3550 §7).
The packets are sent and received by bench/rtp-streams (Rust, batched syscalls; its path
in RTP_STREAMS), which binds the same two media ports once the calls are set up.
"""

import json
import os
import random
import re
import select
import signal
import socket
import subprocess
import sys
import time

CALLS = int(os.environ.get("CALLS", "1000"))
SECONDS = int(os.environ.get("SECONDS_MEDIA", "60"))
CALL_RATE = int(os.environ.get("CALL_RATE", "100"))  # new calls per second
CALLER_MEDIA = ("127.0.0.1", int(os.environ.get("CALLER_MEDIA_PORT", "40000")))
CALLEE_MEDIA = ("127.0.0.1", int(os.environ.get("CALLEE_MEDIA_PORT", "40002")))


def sdp(user, address):
    return (
        f"v=0\r\no={user} 1 1 IN IP4 {address[0]}\r\ns=-\r\nc=IN IP4 {address[0]}\r\nt=0 0\r\n"
        f"m=audio {address[1]} RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\na=sendrecv\r\n"
    )


def media_address(body):
    """The (ip, port) an SDP body's audio goes to, or None."""
    ip = re.search(r"^c=IN IP4 (\S+)", body, re.M)
    port = re.search(r"^m=audio (\d+)", body, re.M)
    return (ip.group(1), int(port.group(1))) if ip and port else None


COMPACT = {"i": "call-id", "v": "via", "f": "from", "t": "to", "l": "content-length", "m": "contact"}


def parse(data):
    """(first line, {lower-case name: [values]}, body) of a SIP message."""
    text = data.decode("utf-8", "replace")
    head, _, body = text.partition("\r\n\r\n")
    lines = head.split("\r\n")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        name = name.strip().lower()
        headers.setdefault(COMPACT.get(name, name), []).append(value.strip())
    return lines[0], headers, body


def message(first, headers, body=""):
    lines = [first] + [f"{name}: {value}" for name, value in headers]
    if body:
        lines.append("Content-Type: application/sdp")
    lines.append(f"Content-Length: {len(body.encode())}")
    return ("\r\n".join(lines) + "\r\n\r\n" + body).encode()


def udp(port, buffer=4 << 20):
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, buffer)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, buffer)
    sock.bind(("127.0.0.1", port))
    return sock


class SipCalls:
    """The caller (a trunk provider) and the callee device, on two sockets."""

    def __init__(self, server, caller_port, callee_port, did):
        self.server, self.did = ("127.0.0.1", server), did
        self.caller, self.callee = udp(caller_port), udp(callee_port)
        self.caller_port, self.callee_port = caller_port, callee_port
        self.calls = {}  # our Call-ID -> state of the caller's dialog
        self.answered = {}  # Centralita's Call-ID at the callee -> our 200 (re-sent on retransmission)
        self.caller_streams, self.callee_streams = [], []

    def invite(self, i):
        call_id = f"media-{i}-{os.getpid()}@bench"
        call = {"i": i, "call_id": call_id, "tag": f"c{i}", "sent": time.monotonic(), "tries": 1}
        call["request"] = message(
            f"INVITE sip:{self.did}@{self.server[0]}:{self.server[1]} SIP/2.0",
            [
                ("Via", f"SIP/2.0/UDP 127.0.0.1:{self.caller_port};branch=z9hG4bK-inv-{i};rport"),
                ("From", f"<sip:34600{i:06d}@127.0.0.1>;tag={call['tag']}"),
                ("To", f"<sip:{self.did}@127.0.0.1>"),
                ("Call-ID", call_id),
                ("CSeq", "1 INVITE"),
                ("Contact", f"<sip:34600{i:06d}@127.0.0.1:{self.caller_port}>"),
                ("Max-Forwards", "70"),
            ],
            sdp("caller", CALLER_MEDIA),
        )
        self.calls[call_id] = call
        self.caller.sendto(call["request"], self.server)

    def in_dialog(self, call, method, cseq, branch):
        return message(
            f"{method} sip:{self.did}@{self.server[0]}:{self.server[1]} SIP/2.0",
            [
                ("Via", f"SIP/2.0/UDP 127.0.0.1:{self.caller_port};branch=z9hG4bK-{branch};rport"),
                ("From", f"<sip:34600{call['i']:06d}@127.0.0.1>;tag={call['tag']}"),
                ("To", call["to"]),
                ("Call-ID", call["call_id"]),
                ("CSeq", f"{cseq} {method}"),
                ("Max-Forwards", "70"),
            ],
        )

    def on_caller_message(self, data):
        first, headers, body = parse(data)
        call = self.calls.get((headers.get("call-id") or [""])[0])
        if call is None or not first.startswith("SIP/2.0 "):
            return
        status = int(first.split()[1])
        method = (headers.get("cseq") or ["0 X"])[0].split()[-1]
        call["heard"] = True
        if method == "INVITE" and status >= 200:
            if status >= 300:
                call["failed"] = first
                return
            call["to"] = headers["to"][0]
            if "relay" not in call:
                call["relay"] = media_address(body)
                call["ack"] = self.in_dialog(call, "ACK", 1, f"ack-{call['i']}")
            self.caller.sendto(call["ack"], self.server)  # every 2xx (retransmissions too)
        elif method == "BYE" and status >= 200:
            call["ended"] = True

    def on_callee_message(self, data, source):
        first, headers, body = parse(data)
        call_id = (headers.get("call-id") or [""])[0]
        method = first.split()[0]
        if method == "INVITE":
            if call_id not in self.answered:
                n = len(self.answered)
                relay = media_address(body)
                if relay:
                    self.callee_streams.append(relay)
                self.answered[call_id] = message(
                    "SIP/2.0 200 OK",
                    [("Via", via) for via in headers["via"]]
                    + [
                        ("From", headers["from"][0]),
                        ("To", f"{headers['to'][0]};tag=d{n}"),
                        ("Call-ID", call_id),
                        ("CSeq", headers["cseq"][0]),
                        ("Contact", f"<sip:101@127.0.0.1:{self.callee_port}>"),
                    ],
                    sdp("callee", CALLEE_MEDIA),
                )
            self.callee.sendto(self.answered[call_id], source)
        elif method in ("BYE", "CANCEL", "OPTIONS"):
            ok = message(
                "SIP/2.0 200 OK",
                [("Via", via) for via in headers["via"]]
                + [(name, headers[key][0]) for name, key in (("From", "from"), ("To", "to"), ("Call-ID", "call-id"), ("CSeq", "cseq"))]
            )
            self.callee.sendto(ok, source)

    def pump(self, timeout):
        """Handle what arrives on either socket for up to `timeout` seconds."""
        readable, _, _ = select.select([self.caller, self.callee], [], [], max(timeout, 0))
        for sock in readable:
            while True:
                try:
                    data, source = sock.recvfrom(65535, socket.MSG_DONTWAIT)
                except BlockingIOError:
                    break
                if sock is self.caller:
                    self.on_caller_message(data)
                else:
                    self.on_callee_message(data, source)

    def retransmit(self, pending, key, now):
        """Re-send requests of `pending` calls with no answer yet (UDP, RFC 3261 timer A)."""
        for call in pending:
            if now - call["sent"] > 0.5 * 2 ** (call["tries"] - 1) and call["tries"] < 7:
                call["tries"] += 1
                self.caller.sendto(call[key], self.server)

    def setup(self, with_callee=True):
        """Place the calls; with_callee: each is answered by the callee device (else by the
        server itself, e.g. an IVR). The failures."""
        start = time.monotonic()
        for i in range(CALLS):
            due = start + i / CALL_RATE
            while time.monotonic() < due:
                self.pump(due - time.monotonic())
            self.invite(i)
            if i % 50 == 0:
                self.retransmit([c for c in self.calls.values() if "heard" not in c], "request", time.monotonic())
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            waiting = [c for c in self.calls.values() if "relay" not in c and "failed" not in c]
            if not waiting and (not with_callee or len(self.callee_streams) >= len(self.calls)):
                break
            self.retransmit([c for c in waiting if "heard" not in c], "request", time.monotonic())
            self.pump(0.05)
        self.pump(0.5)  # the last ACKs' retransmitted 200s, if any
        self.caller_streams = [c["relay"] for c in self.calls.values() if c.get("relay")]
        failed = [c.get("failed", "no answer") for c in self.calls.values() if "relay" not in c]
        return failed

    def teardown(self):
        established = [c for c in self.calls.values() if "relay" in c]
        start = time.monotonic()
        for n, call in enumerate(established):
            due = start + n / (CALL_RATE * 2)
            while time.monotonic() < due:
                self.pump(due - time.monotonic())
            call["bye"] = self.in_dialog(call, "BYE", 2, f"bye-{call['i']}")
            call["sent"], call["tries"] = time.monotonic(), 1
            self.caller.sendto(call["bye"], self.server)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and any("ended" not in c for c in established):
            self.retransmit([c for c in established if "ended" not in c], "bye", time.monotonic())
            self.pump(0.05)
        return sum(1 for c in established if "ended" not in c)


def bencode(value):
    if isinstance(value, int):
        return b"i%de" % value
    if isinstance(value, str):
        value = value.encode()
    if isinstance(value, bytes):
        return b"%d:%s" % (len(value), value)
    if isinstance(value, list):
        return b"l" + b"".join(bencode(v) for v in value) + b"e"
    return b"d" + b"".join(bencode(k) + bencode(v) for k, v in sorted(value.items())) + b"e"


def bdecode(data, at=0):
    """(value, next offset) of the bencoded value at `at`."""
    kind = data[at : at + 1]
    if kind == b"i":
        end = data.index(b"e", at)
        return int(data[at + 1 : end]), end + 1
    if kind in (b"l", b"d"):
        at, items = at + 1, []
        while data[at : at + 1] != b"e":
            item, at = bdecode(data, at)
            items.append(item)
        if kind == b"l":
            return items, at + 1
        return {items[k].decode(): items[k + 1] for k in range(0, len(items), 2)}, at + 1
    colon = data.index(b":", at)
    length = int(data[at:colon])
    return data[colon + 1 : colon + 1 + length], colon + 1 + length


class NgCalls:
    """The same calls through rtpengine, set up with its ng control protocol."""

    def __init__(self, ng_port):
        self.ng = ("127.0.0.1", ng_port)
        self.sock = udp(0)
        self.sock.settimeout(5)
        self.caller_streams, self.callee_streams, self.call_ids = [], [], []

    def command(self, body):
        cookie = b"%d_%d" % (os.getpid(), random.getrandbits(48))
        self.sock.sendto(cookie + b" " + bencode(body), self.ng)
        while True:
            data, _ = self.sock.recvfrom(65535)
            if data.startswith(cookie + b" "):
                reply, _ = bdecode(data, len(cookie) + 1)
                if reply.get("result") != b"ok":
                    raise RuntimeError(f"rtpengine {body['command']}: {reply}")
                return reply

    def setup(self):
        failed = []
        start = time.monotonic()
        for i in range(CALLS):
            due = start + i / CALL_RATE
            time.sleep(max(0, due - time.monotonic()))
            call = {"call-id": f"ng-{i}-{os.getpid()}", "from-tag": f"c{i}"}
            try:
                offer = self.command({**call, "command": "offer", "sdp": sdp("caller", CALLER_MEDIA)})
                answer = self.command({**call, "command": "answer", "to-tag": f"d{i}", "sdp": sdp("callee", CALLEE_MEDIA)})
            except (OSError, RuntimeError) as error:
                failed.append(str(error))
                continue
            # The offer's SDP goes to the callee: where it sends; the answer's to the caller.
            self.callee_streams.append(media_address(offer["sdp"].decode()))
            self.caller_streams.append(media_address(answer["sdp"].decode()))
            self.call_ids.append(call)
        return failed

    def teardown(self):
        failed = 0
        for call in self.call_ids:
            try:
                self.command({**call, "command": "delete"})
            except (OSError, RuntimeError):
                failed += 1
        return failed


def cpu_seconds(pid):
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main():
    mode = sys.argv[1]
    if mode == "centralita":
        sip_port, caller_port, callee_port, did, pid = sys.argv[2:7]
        calls = SipCalls(int(sip_port), int(caller_port), int(callee_port), did)
    else:
        ng_port, pid = sys.argv[2:4]
        calls = NgCalls(int(ng_port))
    caller_media, callee_media = udp(CALLER_MEDIA[1]), udp(CALLEE_MEDIA[1])
    failed = calls.setup()
    streams = calls.caller_streams + calls.callee_streams
    print(
        f"{mode}: {CALLS - len(failed)} of {CALLS} calls set up ({len(calls.caller_streams)} caller and "
        f"{len(calls.callee_streams)} callee streams); failures: {sorted(set(failed))[:3]}",
        flush=True,
    )
    # The RTP itself comes from bench/rtp-streams (Rust, batched syscalls), which binds the
    # same two ports: the relays latched onto them during setup.
    table = [[0, f"{ip}:{port}"] for ip, port in calls.caller_streams] + [
        [1, f"{ip}:{port}"] for ip, port in calls.callee_streams
    ]
    caller_media.close()
    callee_media.close()
    cpu_before, wall_before = cpu_seconds(pid), time.monotonic()
    player = subprocess.run(
        [os.environ["RTP_STREAMS"], str(CALLER_MEDIA[1]), str(CALLEE_MEDIA[1]), str(SECONDS)],
        input=json.dumps(table), capture_output=True, text=True, check=True,
    )
    cpu = cpu_seconds(pid) - cpu_before
    wall = time.monotonic() - wall_before - 1  # the player waits 1 s for packets in flight
    result = json.loads(player.stdout)
    sent, took = result["sent"], result["took_s"]
    received = sum(result["received"])
    silent = sum(1 for r in result["received"] if r == 0)
    histogram = result["histogram"]

    def percentile(q):
        goal, seen = q * max(sum(histogram), 1), 0
        for bucket, n in enumerate(histogram):
            seen += n
            if seen >= goal:
                return bucket / 10
        return len(histogram) / 10

    hangups_failed = calls.teardown()
    print(
        f"{mode}: sent {sent} packets in {took:.1f} s ({sent / took:.0f}/s, planned "
        f"{len(streams) * 50}/s), {silent} streams got nothing, {hangups_failed} hang-ups unanswered",
        flush=True,
    )
    print(
        f"{mode} calls={len(calls.caller_streams)} sent={sent} received={received} "
        f"loss_pct={100 * (sent - received) / max(sent, 1):.4f} latency_p50_ms={percentile(0.5):.1f} "
        f"latency_p99_ms={percentile(0.99):.1f} cpu_pct={100 * cpu / wall:.1f}",
        flush=True,
    )


if __name__ == "__main__":
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    main()
