"""gateway.core.ntp: the SNTP request and the checks on a reply (CPython and MicroPython)."""
from _assert import raises

from gateway.core import ntp

NONCE = b"\x9a\x01\xfe\x42\x00\x17\x80\x33"
T = 1767225600  # 2026-01-01 00:00:00 UTC


def reply(tx_s, tx_us=0, rx=None, nonce=NONCE, li=0, version=4, mode=4, stratum=2,
          refid=b"GPS\x00", tx=None):
    """A server reply as the server would build it (rx: Unix (s, us) it received at)."""
    b0 = (li << 6) | (version << 3) | mode
    rx_ts = ntp.from_unix(*rx) if rx else bytes(8)
    return (bytes([b0, stratum, 6, 0xEC]) + bytes(8) + refid + ntp.from_unix(tx_s - 5)
            + nonce + rx_ts + (ntp.from_unix(tx_s, tx_us) if tx is None else tx))


def test_request_is_48_bytes_v4_client_with_the_nonce():
    r = ntp.request(NONCE)
    assert len(r) == 48
    assert r[0] == 0x23  # LI 0, version 4, mode 3 (client)
    assert r[0] & 7 == 3 and (r[0] >> 3) & 7 == 4 and r[0] >> 6 == 0
    assert r[1:40] == bytes(39)  # no clock of ours goes out
    assert r[40:48] == NONCE
    raises(ValueError, ntp.request, b"short")


def test_parse_gives_unix_seconds_and_microseconds():
    assert ntp.parse(reply(T), NONCE) == (T, 0)
    s, us = ntp.parse(reply(T, 250000), NONCE)
    assert (s, us) == (T, 250000)
    # integers, not floats: an ESP32 float cannot hold a Unix time to the second
    assert isinstance(s, int) and isinstance(us, int)


def test_known_timestamp_bytes():
    # 2026-01-01 00:00:00 UTC = NTP 3976214400 = 0xED003780; fraction 0x80000000 = 0.5 s
    data = reply(0, tx=bytes([0xED, 0x00, 0x37, 0x80, 0x80, 0, 0, 0]))
    assert ntp.parse(data, NONCE) == (T, 500000)
    assert ntp.from_unix(T) == bytes([0xED, 0x00, 0x37, 0x80, 0, 0, 0, 0])
    assert ntp.to_unix_us(ntp.from_unix(0)) == 0  # 1970 is NTP 2208988800 (era 0)


def test_half_the_network_delay_is_added():
    # 200 ms round trip, the server held the request 40 ms: 80 ms each way
    data = reply(T, 40000, rx=(T, 0))
    assert ntp.parse(data, NONCE, rtt_ms=200) == (T, 120000)
    # no receive timestamp: the whole round trip counts as network delay
    assert ntp.parse(reply(T), NONCE, rtt_ms=200) == (T, 100000)
    # a hold longer than the round trip (clocks, ms granularity): not subtracted
    assert ntp.parse(reply(T, 900000, rx=(T, 0)), NONCE, rtt_ms=10) == (T, 905000)
    # a negative rtt (a caller's bug) adds nothing
    assert ntp.parse(reply(T), NONCE, rtt_ms=-50) == (T, 0)
    # the carry into the seconds
    assert ntp.parse(reply(T, 990000), NONCE, rtt_ms=40) == (T + 1, 10000)


def test_era_rollover_2036():
    wrap = 2085978496  # 2036-02-07 06:28:16 UTC: NTP seconds wrap to 0 (era 1)
    assert ntp.from_unix(wrap) == bytes(8)  # the one instant NTP cannot send (zero = unset)
    assert ntp.parse(reply(wrap, 1), NONCE) == (wrap, 1)
    assert ntp.parse(reply(wrap - 1), NONCE) == (wrap - 1, 0)  # era 0's last second
    y2040 = 2208988800  # 2040-01-01: NTP seconds 123010304 (< 2^31) read as era 1
    assert ntp.parse(reply(y2040), NONCE) == (y2040, 0)
    y2100 = 4102444800
    assert ntp.parse(reply(y2100), NONCE) == (y2100, 0)
    # the era boundary inside the fraction: 2036-02-07 06:28:15.999 then 06:28:16.000
    assert ntp.parse(reply(wrap - 1, 999000), NONCE, rtt_ms=4) == (wrap, 1000)


def test_rejects_what_is_not_our_reply():
    e = raises(ValueError, ntp.parse, reply(T)[:47], NONCE)
    assert "short" in str(e)
    e = raises(ValueError, ntp.parse, reply(T, mode=3), NONCE)  # a client request (echo)
    assert "mode" in str(e)
    e = raises(ValueError, ntp.parse, reply(T, mode=5), NONCE)  # broadcast
    assert "mode" in str(e)
    e = raises(ValueError, ntp.parse, reply(T, nonce=b"\x00" * 8), NONCE)
    assert "originate" in str(e)
    e = raises(ValueError, ntp.parse, reply(T), b"\x9a\x01\xfe\x42\x00\x17\x80\x34")
    assert "originate" in str(e)


def test_rejects_unusable_replies():
    e = raises(ValueError, ntp.parse, reply(T, version=2), NONCE)
    assert "version" in str(e)
    e = raises(ValueError, ntp.parse, reply(T, version=5), NONCE)
    assert "version" in str(e)
    assert ntp.parse(reply(T, version=3), NONCE) == (T, 0)  # v3 servers answer v3
    e = raises(ValueError, ntp.parse, reply(T, stratum=0, refid=b"RATE"), NONCE)
    assert "RATE" in str(e)
    e = raises(ValueError, ntp.parse, reply(T, stratum=0, refid=b"\x00\xff\n "), NONCE)
    assert "kiss" in str(e)
    for st in (16, 255):
        e = raises(ValueError, ntp.parse, reply(T, stratum=st), NONCE)
        assert "not synchronized" in str(e)
    assert ntp.parse(reply(T, stratum=1), NONCE) == (T, 0)
    assert ntp.parse(reply(T, stratum=15), NONCE) == (T, 0)
    e = raises(ValueError, ntp.parse, reply(T, li=3), NONCE)  # alarm: unsynchronized
    assert "not synchronized" in str(e)
    assert ntp.parse(reply(T, li=1), NONCE) == (T, 0)  # a leap second announced: fine
    e = raises(ValueError, ntp.parse, reply(T, tx=bytes(8)), NONCE)
    assert "transmit" in str(e)


def test_longer_replies_and_bytearrays_are_accepted():
    data = bytearray(reply(T, 123456) + b"\x00" * 20)  # with an extension field / MAC
    assert ntp.parse(data, NONCE) == (T, 123456)
    s, us = ntp.parse(memoryview(reply(T)), bytearray(NONCE))
    assert (s, us) == (T, 0)
