"""bench/sipp/ivr_load.py: the callers of bench/ivr.sh, sitting in an IVR.

Places CALLS calls from a trunk provider to a DID that leads to an IVR menu, which the
server answers itself and where it plays a long prompt. Every caller sends G.711 RTP
(silence, 50 packets/s) like a phone does; the server's RTP to all callers arrives on one
socket, where each packet is stamped by the kernel on arrival (SO_TIMESTAMPNS), so the
figures do not depend on this script keeping up. For every stream (by the server's
source port) the interval between consecutive packets is compared with the 20 ms frame
time; a sequence number skipped or an interval over 3 frames is a gap.

Prints `ivr calls=N streams=N packets=N jitter_p50_ms=N jitter_p99_ms=N jitter_max_ms=N
gaps=N cpu_pct=N` (jitter: |interval - 20 ms|; cpu_pct: the server's CPU over the
measurement, % of one core). Usage: ivr_load.py SIP_PORT CALLER_PORT SPARE_PORT DID PID.
"""

import json
import os
import signal
import socket
import struct
import sys
import time

from media_load import CALLS, CALLER_MEDIA, SECONDS, SipCalls, cpu_seconds, send, udp

SO_TIMESTAMPNS = 35  # Linux; the control message type has the same number
FRAME_NS = 20_000_000
WARMUP_PACKETS = 10  # per stream, before intervals count: the first prompt starts
BUCKET_NS = 10_000  # 0.01 ms histogram buckets
BUCKETS = 100_001  # up to 1 s


def receive(sock, seconds, out_path):
    """Read the stamped packets for `seconds`; write the per-stream figures to out_path."""
    sock.settimeout(0.2)
    streams = {}  # source port -> [packets, last_ns, last_seq, last_ssrc]
    histogram = [0] * BUCKETS
    lost = late = 0  # sequence skips; intervals over 3 frames
    space = socket.CMSG_SPACE(16)
    end = time.monotonic() + seconds
    begin = time.time_ns()  # the kernel stamps with CLOCK_REALTIME
    while time.monotonic() < end:
        try:
            data, ancillary, _, source = sock.recvmsg(2048, space)
        except socket.timeout:
            continue
        if len(data) < 12 or not ancillary:
            continue
        level, kind, stamp = ancillary[0]
        if level != socket.SOL_SOCKET or kind != SO_TIMESTAMPNS:
            continue
        seconds_part, nanos = struct.unpack("qq", stamp[:16])
        arrived = seconds_part * 1_000_000_000 + nanos
        if arrived < begin:
            # Queued while the calls were set up (the buffer may have overflowed then):
            # streams are measured from the receiver's start on.
            continue
        seq, ssrc = struct.unpack_from("!H", data, 2)[0], struct.unpack_from("!I", data, 8)[0]
        state = streams.setdefault(source[1], [0, 0, 0, 0])
        state[0] += 1
        if state[0] > WARMUP_PACKETS and ssrc == state[3]:
            interval = arrived - state[1]
            histogram[min(BUCKETS - 1, abs(interval - FRAME_NS) // BUCKET_NS)] += 1
            if (seq - state[2]) & 0xFFFF != 1:
                lost += 1
            elif interval > 3 * FRAME_NS:
                late += 1
        state[1], state[2], state[3] = arrived, seq, ssrc
    with open(out_path, "w") as out:
        json.dump({"streams": len(streams), "packets": sum(s[0] for s in streams.values()),
                   "histogram": histogram, "lost": lost, "late": late}, out)


def percentile(histogram, q):
    goal, seen = q * max(sum(histogram), 1), 0
    for bucket, n in enumerate(histogram):
        seen += n
        if seen >= goal:
            return bucket * BUCKET_NS / 1e6
    return len(histogram) * BUCKET_NS / 1e6


def main():
    sip_port, caller_port, spare_port, did, pid = sys.argv[1:6]
    calls = SipCalls(int(sip_port), int(caller_port), int(spare_port), did)
    media = udp(CALLER_MEDIA[1], buffer=16 << 20)
    # Stamped from the start: packets queued while the calls are set up keep the time
    # they arrived, not the time they are read.
    media.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
    failed = calls.setup(with_callee=False)
    print(f"ivr: {CALLS - len(failed)} of {CALLS} calls answered; failures: {sorted(set(failed))[:3]}", flush=True)
    out_path = "received-ivr.json"
    receiver = os.fork()
    if receiver == 0:
        receive(media, SECONDS, out_path)
        os._exit(0)
    cpu_before, wall_before = cpu_seconds(pid), time.monotonic()
    sent, took = send([(media, address) for address in calls.caller_streams])
    os.waitpid(receiver, 0)
    cpu, wall = cpu_seconds(pid) - cpu_before, time.monotonic() - wall_before
    result = json.load(open(out_path))
    histogram = result["histogram"]
    hangups_failed = calls.teardown()
    print(f"ivr: callers sent {sent} packets in {took:.1f} s; {hangups_failed} hang-ups unanswered", flush=True)
    print(
        f"ivr calls={len(calls.caller_streams)} streams={result['streams']} packets={result['packets']} "
        f"jitter_p50_ms={percentile(histogram, 0.5):.2f} jitter_p99_ms={percentile(histogram, 0.99):.2f} "
        f"jitter_max_ms={percentile(histogram, 1.0):.2f} gaps={result['lost'] + result['late']} "
        f"lost={result['lost']} late={result['late']} cpu_pct={100 * cpu / wall:.1f}",
        flush=True,
    )


if __name__ == "__main__":
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    main()
