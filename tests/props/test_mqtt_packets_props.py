"""Property tests of the MQTT packet codec (CPython + hypothesis): whatever bytes a broker (or
something posing as one) sends, reading and parsing them raises only the codec's own errors,
which the client turns into a dropped connection, never anything that would end its task; and
what the client encodes parses back as it was."""

import asyncio

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.core import mqtt_packets as P

FAST = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
PARSERS = {P.PUBLISH: None, P.PUBACK: P.parse_puback, P.SUBACK: P.parse_suback,
           P.UNSUBACK: P.parse_unsuback, P.CONNACK: P.parse_connack}


def _read_all(data, max_size=4096):
    """Every packet of ``data`` read and parsed as the client does, until an error."""
    async def go():
        r = asyncio.StreamReader()
        r.feed_data(data)
        r.feed_eof()
        out = []
        while True:
            ptype, flags, body = await P.read_packet(r, max_size)
            if ptype == P.PUBLISH:
                out.append(P.parse_publish(flags, body))
            elif ptype in PARSERS:
                out.append(PARSERS[ptype](body))
    return asyncio.run(go())


@FAST
@given(st.binary(max_size=300) | st.lists(st.sampled_from(
    [b"\x30", b"\x32", b"\x34", b"\x3a", b"\x40\x02", b"\x90\x03\x00\x01", b"\x20\x02\x00\x00",
     b"\x20\x00", b"\x20\x01", b"\x40\x00", b"\x90\x02", b"\xb0\x00", b"\x00", b"\x02", b"\x05",
     b"\xff\xff\xff\xff", b"\x00\x05a/b", b"\xc0", b"\x00\x01", b"\xed\xa0\x80"]),
    max_size=20).map(b"".join))
def test_any_bytes_raise_only_the_codec_s_errors(data):
    try:
        _read_all(data)
    except P.MQTTError:
        pass


topics = st.text(st.characters(blacklist_characters="+#\x00", blacklist_categories=("Cs",)),
                 min_size=1, max_size=60)


@FAST
@given(topics, st.binary(max_size=500), st.sampled_from([0, 1, 2]), st.booleans(),
       st.integers(1, 65535))
def test_a_publish_parses_back_as_it_was(topic, payload, qos, retain, pid):
    pkt = P.publish(topic, payload, qos, retain, False, pid if qos else 0)
    async def go():
        r = asyncio.StreamReader()
        r.feed_data(pkt)
        r.feed_eof()
        return await P.read_packet(r, 4096)
    ptype, flags, body = asyncio.run(go())
    assert ptype == P.PUBLISH
    assert P.parse_publish(flags, body) == (topic, payload, qos, retain, False, pid if qos else 0)
