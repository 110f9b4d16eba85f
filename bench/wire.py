"""The requests a poll cycle makes and their wire-time limit, from the firmware core itself.

The requests are planned exactly as the gateway's poller plans them: ``gateway.core.profiles
.registers(meter)`` gives the register specs, ``gateway.core.registers.plan(specs, max_gap,
profiles.max_count(meter))`` merges them into read blocks (``max_gap`` = the bus setting,
``gateway.core.modbus.BUS_DEFAULTS["max_gap"]`` = 10 unless told otherwise).

The wire-time limit of one transaction (a read of ``count`` registers) on a line whose character
takes ``c`` seconds (start + 8 data + parity + stop bits / baud: 10/9600 s at 9600 8N1):

    request 8 bytes                            8 c
    silence that ends the request frame      3.5 c   (the device may not answer before it)
    response 5 + 2*count bytes       (5 + 2 count) c  (address, function, byte count, data, CRC)
    silence that ends the response frame     3.5 c   (the master may not send before it)

so ``(8 + 5 + 2 count + 7) c`` per transaction and the cycle limit is the sum over every request
of the cycle. Above 19200 baud each silence is a fixed 1.75 ms (Modbus over serial line v1.02,
2.5.1.1). Not counted: the device's own turnaround (time it takes to start answering after the
silence: 3 ms per request for the emulated meters, ``turnaround_s`` below) and the 1.5-character
inter-byte limit (the line carries the bytes back to back), so no master can beat this limit and
a perfect one on the emulated line gets ``limit + turnaround``.
"""
from gateway.core import modbus, profiles, registers

REQUEST_BYTES = 8  # address, function, register (2), count (2), CRC (2)


def char_time(baud=9600, parity="N", stop=1):
    """Seconds one character takes on the line (the firmware's own rule: core/modbus.char_bits)."""
    return modbus.char_bits(parity, stop) / baud


def silence(baud=9600, parity="N", stop=1):
    """The mandatory 3.5-character inter-frame silence (1.75 ms above 19200 baud)."""
    return 3.5 * char_time(baud, parity, stop) if baud <= 19200 else modbus.silence_us(baud) / 1e6


def response_bytes(function, count):
    """Normal response length of a read (FC1-4), address and CRC included."""
    return modbus.expected_length(modbus.read_request(1, function, 0, count))


def meter_requests(meter, max_gap=None):
    """``[(address, function, register, count), ...]`` the poller sends for ``meter`` (a dict with
    at least ``address`` and ``profile``; ``registers`` for generic)."""
    if max_gap is None:
        max_gap = modbus.BUS_DEFAULTS["max_gap"]
    blocks = registers.plan(profiles.registers(meter), max_gap, profiles.max_count(meter))
    return [(meter["address"], b[0], b[1], b[2]) for b in blocks]


def cycle_requests(meters, max_gap=None):
    out = []
    for m in meters:
        out += meter_requests(m, max_gap)
    return out


def transaction_limit(function, count, baud=9600, parity="N", stop=1):
    """Wire-time limit (s) of one read transaction, both 3.5-character silences included."""
    c = char_time(baud, parity, stop)
    return (REQUEST_BYTES + response_bytes(function, count)) * c + 2 * silence(baud, parity, stop)


def wire_limit(requests, baud=9600, parity="N", stop=1):
    """Sum of ``transaction_limit`` over ``requests`` ([(address, function, register, count)])."""
    return sum(transaction_limit(r[1], r[3], baud, parity, stop) for r in requests)


def breakdown(requests, baud=9600, parity="N", stop=1, turnaround_s=0.003):
    """What the limit is made of (for the report)."""
    c = char_time(baud, parity, stop)
    req = REQUEST_BYTES * len(requests)
    resp = sum(response_bytes(r[1], r[3]) for r in requests)
    return {
        "requests": len(requests),
        "request_bytes": req,
        "response_bytes": resp,
        "char_time_ms": c * 1000,
        "bytes_s": (req + resp) * c,
        "silences_s": 2 * len(requests) * silence(baud, parity, stop),
        "limit_s": wire_limit(requests, baud, parity, stop),
        "turnaround_s": len(requests) * turnaround_s,
    }


def scenario_meters(devices):
    """Meter configs (as the API takes them) for the scenario's sdm120/sdm630 devices."""
    out = []
    for d in devices:
        if d.get("type") in ("sdm120", "sdm630"):
            out.append({"name": d.get("name") or "%s-%d" % (d["type"], d["address"]),
                        "address": d["address"], "profile": d["type"], "enabled": True})
    return out
