"""Modbus RTU frames: CRC, requests, replies, exceptions, bad frames (CPython and MicroPython)."""
import struct

from _assert import raises

from gateway.core import modbus
from gateway.core.modbus import (
    CrcError,
    FrameError,
    Malformed,
    ModbusError,
    ModbusException,
    NoResponse,
    Truncated,
    WrongAddress,
    WrongFunction,
    crc16,
    expected_length,
    needed_length,
    parse_response,
    with_crc,
)


def h(s):
    """bytes from a hex string with spaces."""
    return bytes(int(x, 16) for x in s.split())


def crc_bitwise(data):
    c = 0xFFFF
    for b in data:
        c ^= b
        for _ in range(8):
            c = (c >> 1) ^ 0xA001 if c & 1 else c >> 1
    return c


# ---- CRC ----


def test_crc_known_vectors():
    assert with_crc(h("01 03 00 00 00 0A")) == h("01 03 00 00 00 0A C5 CD")
    assert with_crc(h("11 03 00 6B 00 03")) == h("11 03 00 6B 00 03 76 87")  # spec example
    assert with_crc(h("01 04 00 00 00 02")) == h("01 04 00 00 00 02 71 CB")
    assert with_crc(h("01 06 00 01 00 03")) == h("01 06 00 01 00 03 98 0B")
    assert crc16(b"123456789") == 0x4B37  # CRC-16/MODBUS check value
    assert crc16(b"") == 0xFFFF


def test_crc_matches_bitwise_reference():
    seed = 12345
    for n in range(0, 300, 7):
        data = bytearray(n)
        for i in range(n):
            seed = (seed * 1103515245 + 12345) & 0x7FFFFFFF
            data[i] = seed >> 16 & 0xFF
        assert crc16(data) == crc_bitwise(data)
        assert crc16(with_crc(data)) == 0


def test_crc_accepts_bytearray_and_memoryview():
    f = h("01 03 00 00 00 0A C5 CD")
    assert crc16(bytearray(f)) == 0
    assert crc16(memoryview(f)[:6]) == 0xCDC5


# ---- requests ----


def test_read_requests_every_read_function():
    assert modbus.read_request(1, 3, 0, 10) == h("01 03 00 00 00 0A C5 CD")
    assert modbus.read_request(0x11, 1, 0x13, 0x25) == with_crc(h("11 01 00 13 00 25"))
    assert modbus.read_request(0x11, 2, 0xC4, 0x16) == with_crc(h("11 02 00 C4 00 16"))
    assert modbus.read_request(1, 4, 0, 2) == h("01 04 00 00 00 02 71 CB")
    assert modbus.read_request(247, 3, 0xFFFF, 1)[:6] == h("F7 03 FF FF 00 01")
    assert modbus.read_request(1, 1, 0, 2000)[4:6] == h("07 D0")


def test_write_requests():
    assert modbus.write_coil_request(0x11, 0xAC, True) == with_crc(h("11 05 00 AC FF 00"))
    assert modbus.write_coil_request(0x11, 0xAC, False) == with_crc(h("11 05 00 AC 00 00"))
    assert modbus.write_register_request(1, 1, 3) == h("01 06 00 01 00 03 98 0B")
    bits = [1, 0, 1, 1, 0, 0, 1, 1, 1, 0]  # spec example: coils 20..29 = CD 01
    assert modbus.write_coils_request(0x11, 0x13, bits) == with_crc(h("11 0F 00 13 00 0A 02 CD 01"))
    assert modbus.write_registers_request(0x11, 1, [0x000A, 0x0102]) == with_crc(
        h("11 10 00 01 00 02 04 00 0A 01 02")
    )


def test_request_arguments_are_checked():
    raises(ValueError, modbus.read_request, 0, 3, 0, 1)
    raises(ValueError, modbus.read_request, 248, 3, 0, 1)
    raises(ValueError, modbus.read_request, 1, 5, 0, 1)
    raises(ValueError, modbus.read_request, 1, 3, 0, 0)
    raises(ValueError, modbus.read_request, 1, 3, 0, 126)
    raises(ValueError, modbus.read_request, 1, 4, 0, 126)
    raises(ValueError, modbus.read_request, 1, 1, 0, 2001)
    raises(ValueError, modbus.read_request, 1, 3, 0xFFFF, 2)
    raises(ValueError, modbus.read_request, 1, 3, -1, 1)
    raises(ValueError, modbus.read_request, True, 3, 0, 1)
    raises(ValueError, modbus.read_request, 1, 3, 0, 1.0)
    raises(ValueError, modbus.write_register_request, 1, 0, 0x10000)
    raises(ValueError, modbus.write_register_request, 1, 0, -1)
    raises(ValueError, modbus.write_registers_request, 1, 0, [])
    raises(ValueError, modbus.write_registers_request, 1, 0, [0] * 124)
    raises(ValueError, modbus.write_coils_request, 1, 0, [0] * 1969)
    raises(ValueError, modbus.write_coil_request, 0, 0, True)


def test_describe_names_the_request():
    assert modbus.describe(modbus.read_request(5, 4, 0x34, 24)) == "5 FC4 0x0034 x24"
    assert modbus.describe(modbus.write_register_request(9, 0x10, 7)) == "9 FC6 0x0010 x1"


# ---- expected lengths ----


def test_expected_length_every_function():
    assert expected_length(modbus.read_request(1, 3, 0, 10)) == 25
    assert expected_length(modbus.read_request(1, 4, 0, 125)) == 255
    assert expected_length(modbus.read_request(1, 1, 0, 1)) == 6
    assert expected_length(modbus.read_request(1, 1, 0, 8)) == 6
    assert expected_length(modbus.read_request(1, 2, 0, 9)) == 7
    assert expected_length(modbus.read_request(1, 1, 0, 2000)) == 255
    assert expected_length(modbus.write_coil_request(1, 0, 1)) == 8
    assert expected_length(modbus.write_register_request(1, 0, 1)) == 8
    assert expected_length(modbus.write_coils_request(1, 0, [1] * 20)) == 8
    assert expected_length(modbus.write_registers_request(1, 0, [1] * 20)) == 8
    raises(ValueError, expected_length, h("01 07 00 00"))


def test_needed_length_exception_is_5():
    req = modbus.read_request(3, 4, 0, 10)
    assert needed_length(req, 3, 0x84) == 5
    assert needed_length(req, 3, 0x04) == 25
    assert needed_length(req, 4, 0x84) == 25  # another device: not our exception
    assert needed_length(req, 3, 0x83) == 25


# ---- replies ----


def test_parse_fc3_fc4_registers():
    req = modbus.read_request(1, 3, 0x6B, 3)
    frame = with_crc(h("01 03 06 02 2B 00 00 00 64"))
    assert parse_response(req, frame) == [0x022B, 0, 0x64]
    req = modbus.read_request(9, 4, 8, 1)
    assert parse_response(req, with_crc(h("09 04 02 FF FF"))) == [0xFFFF]


def test_parse_fc1_fc2_bits():
    req = modbus.read_request(0x11, 1, 0x13, 19)  # spec example: CD 6B 05
    got = parse_response(req, with_crc(h("11 01 03 CD 6B 05")))
    assert len(got) == 19
    assert got[:8] == [True, False, True, True, False, False, True, True]
    assert got[8:16] == [True, True, False, True, False, True, True, False]
    assert got[16:] == [True, False, True]
    req = modbus.read_request(2, 2, 0, 3)
    assert parse_response(req, with_crc(h("02 02 01 06"))) == [False, True, True]


def test_parse_write_echoes():
    req = modbus.write_coil_request(1, 0xAC, True)
    assert parse_response(req, req) is True
    req = modbus.write_coil_request(1, 0xAC, False)
    assert parse_response(req, req) is False
    req = modbus.write_register_request(1, 1, 3)
    assert parse_response(req, req) == 3
    req = modbus.write_coils_request(0x11, 0x13, [1] * 10)
    assert parse_response(req, with_crc(req[:6])) == 10
    req = modbus.write_registers_request(0x11, 1, [10, 258])
    assert parse_response(req, with_crc(req[:6])) == 2


def test_write_reply_must_echo_the_request():
    req = modbus.write_register_request(1, 1, 3)
    raises(Malformed, parse_response, req, with_crc(h("01 06 00 01 00 04")))
    raises(Malformed, parse_response, req, with_crc(h("01 06 00 02 00 03")))
    req = modbus.write_registers_request(1, 1, [1, 2])
    raises(Malformed, parse_response, req, with_crc(h("01 10 00 01 00 03")))
    req = modbus.write_coil_request(1, 5, True)
    raises(Malformed, parse_response, req, with_crc(h("01 05 00 05 00 00")))


def test_every_exception_code_has_a_name():
    names = {
        1: "illegal function",
        2: "illegal data address",
        3: "illegal data value",
        4: "server device failure",
        5: "acknowledge",
        6: "server device busy",
        7: "negative acknowledge",
        8: "memory parity error",
        9: "reserved",
        10: "gateway path unavailable",
        11: "gateway target device failed to respond",
    }
    for fc in (1, 2, 3, 4, 5, 6, 15, 16):
        if fc <= 4:
            req = modbus.read_request(7, fc, 0, 2)
        elif fc == 15:
            req = modbus.write_coils_request(7, 0, [1, 0])
        elif fc == 16:
            req = modbus.write_registers_request(7, 0, [1, 2])
        else:
            req = with_crc(bytes((7, fc, 0, 0, 0, 1)))
        for code in range(1, 12):
            e = raises(ModbusException, parse_response, req, with_crc(bytes((7, fc | 0x80, code))))
            assert e.code == code and e.function == fc
            assert e.name == names[code] == modbus.exception_name(code)
            assert ("exception %d (%s)" % (code, names[code])) in str(e)
            assert isinstance(e, ModbusError) and not isinstance(e, FrameError)
    req = modbus.read_request(7, 3, 0, 1)
    e = raises(ModbusException, parse_response, req, with_crc(h("07 83 0C")))
    assert e.code == 12 and e.name == "unknown"
    assert modbus.exception_name(0) == "unknown"


def test_exception_reply_of_wrong_length():
    req = modbus.read_request(7, 3, 0, 1)
    raises(Malformed, parse_response, req, with_crc(h("07 83 02 00")))
    # 4 bytes whose last two happen to be a good CRC: a truncated exception (found by fuzzing)
    raises(Truncated, parse_response, req, with_crc(h("07 83")))


def test_bad_crc():
    req = modbus.read_request(1, 3, 0, 2)
    good = with_crc(h("01 03 04 00 01 00 02"))
    assert parse_response(req, good) == [1, 2]
    for i in range(len(good)):
        for bit in range(8):
            bad = bytearray(good)
            bad[i] ^= 1 << bit
            raises(CrcError, parse_response, req, bytes(bad))


def test_truncated_frames():
    req = modbus.read_request(1, 3, 0, 2)
    good = with_crc(h("01 03 04 00 01 00 02"))
    for n in range(len(good)):
        raises(Truncated, parse_response, req, good[:n])
    # a shorter frame that still carries a good CRC is truncated too
    raises(Truncated, parse_response, req, with_crc(h("01 03 04 00 01")))
    # exception replies are 5 bytes: 4 of them are a truncated exception
    exc = with_crc(h("01 83 02"))
    raises(Truncated, parse_response, req, exc[:4])


def test_wrong_address_and_function():
    req = modbus.read_request(1, 3, 0, 2)
    raises(WrongAddress, parse_response, req, with_crc(h("02 03 04 00 01 00 02")))
    raises(WrongAddress, parse_response, req, with_crc(h("02 83 02")))
    raises(WrongFunction, parse_response, req, with_crc(h("01 04 04 00 01 00 02")))
    raises(WrongFunction, parse_response, req, with_crc(h("01 84 02")))


def test_malformed_frames():
    req = modbus.read_request(1, 3, 0, 2)
    raises(Malformed, parse_response, req, with_crc(h("01 03 04 00 01 00 02 00")))  # too long
    raises(Malformed, parse_response, req, with_crc(h("01 03 05 00 01 00 02")))  # byte count
    req = modbus.read_request(1, 1, 0, 9)
    raises(Malformed, parse_response, req, with_crc(h("01 01 03 FF 01")))


def test_error_classes_are_distinct_and_share_a_base():
    classes = (CrcError, Truncated, WrongAddress, WrongFunction, Malformed)
    for i, a in enumerate(classes):
        assert issubclass(a, FrameError) and issubclass(a, ModbusError)
        for b in classes[i + 1 :]:
            assert not issubclass(a, b) and not issubclass(b, a)
    assert issubclass(NoResponse, ModbusError) and not issubclass(NoResponse, FrameError)


def test_reply_registers_are_decoded_big_endian():
    req = modbus.read_request(1, 4, 0, 2)
    words = struct.unpack(">2H", struct.pack(">f", 230.0))
    frame = with_crc(bytes((1, 4, 4)) + struct.pack(">2H", *words))
    assert parse_response(req, frame) == list(words)
