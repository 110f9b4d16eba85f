"""SNTP v4 client packets (RFC 4330, RFC 5905): the request, and the checks on a reply.

Pure: no socket, no clock (gateway.services.clock does the network and loads this module for
the two calls only).

    nonce = os.urandom(8)
    sock.sendto(ntp.request(nonce), addr)
    secs, us = ntp.parse(reply, nonce, rtt_ms)     # ValueError(reason) when not acceptable

The request's transmit timestamp is the random ``nonce``, not the gateway's clock (it is
likely wrong, and a random value is what makes a forged reply unlikely to match: the server
echoes it as the reply's originate timestamp, which must equal it).

Timestamps are 64-bit NTP values: seconds since 1900-01-01 UTC in the upper 32 bits, which wrap
on 2036-02-07 06:28:16 UTC (era 1). A seconds field below 2^31 is read as era 1, so replies
from 1968 to 2104 are understood.

The result is integers (Unix seconds, microseconds), never a float: an ESP32's single-precision
float holds a Unix time only to about 2 minutes.
"""

NTP_DELTA = 2208988800  # seconds from 1900-01-01 to 1970-01-01
ERA = 1 << 32
PORT = 123
SIZE = 48
_ZERO8 = bytes(8)


def request(nonce):
    """The 48-byte client request (LI 0, version 4, mode 3) carrying ``nonce`` (8 bytes)."""
    if len(nonce) != 8:
        raise ValueError("the nonce is 8 bytes")
    return b"\x23" + bytes(39) + bytes(nonce)


def to_unix_us(ts):
    """An 8-byte NTP timestamp -> microseconds since 1970-01-01 UTC (era-aware, rounded)."""
    s = int.from_bytes(ts[:4], "big")
    if s < 0x80000000:
        s += ERA
    return (s - NTP_DELTA) * 1000000 + ((int.from_bytes(ts[4:8], "big") * 1000000 + 0x80000000) >> 32)


def from_unix(seconds, us=0):
    """Unix ``seconds`` (+ ``us``) -> the 8-byte NTP timestamp (era 0 or 1; for test servers)."""
    s = (seconds + NTP_DELTA) % ERA
    return s.to_bytes(4, "big") + (((us << 32) + 500000) // 1000000).to_bytes(4, "big")


def _kiss(code):
    out = ""
    for b in code:
        out += chr(b) if 0x20 < b < 0x7F else "?"
    return out


def parse(data, nonce, rtt_ms=0):
    """Check ``data``, the reply to request(nonce), and return the Unix time at reception as
    (seconds, microseconds): the server's transmit time plus half the network delay, which is
    ``rtt_ms`` (send to receive, measured by the caller) minus the time the server held the
    request. Raises ValueError(reason): not a reply to ours (short, wrong mode, another
    originate timestamp), wrong version, server not synchronized (leap indicator 3, stratum
    16+), kiss-o'-death (stratum 0: RATE, DENY, ...), zero transmit timestamp."""
    if len(data) < SIZE:
        raise ValueError("short reply (%d bytes)" % len(data))
    b0 = data[0]
    if b0 & 7 != 4:
        raise ValueError("not a server reply (mode %d)" % (b0 & 7))
    if bytes(data[24:32]) != bytes(nonce):
        raise ValueError("not the reply to our request (originate timestamp)")
    version = (b0 >> 3) & 7
    if version not in (3, 4):
        raise ValueError("unsupported NTP version %d" % version)
    stratum = data[1]
    if stratum == 0:
        raise ValueError("server refused: kiss-o'-death %s" % _kiss(data[12:16]))
    if stratum > 15 or b0 >> 6 == 3:
        raise ValueError("server clock not synchronized")
    tx = bytes(data[40:48])
    if tx == _ZERO8:
        raise ValueError("zero transmit timestamp")
    t3 = to_unix_us(tx)
    delay = max(rtt_ms, 0) * 1000
    rx = bytes(data[32:40])
    if rx != _ZERO8:
        hold = t3 - to_unix_us(rx)  # the server's receive-to-transmit time
        if 0 <= hold <= delay:
            delay -= hold
    t = t3 + delay // 2
    return t // 1000000, t % 1000000
