"""SunSpec devices read point for point as pysunspec2 reads them (issue 18).

The register image is built with pysunspec2's own model definitions (``sunspec2.device.Model``:
random raw values, some points left "not implemented", scale factors -3..2) for every model the
gateway knows: common 1, inverters 101-103 and 111-113, storage 124, meters 201-204 and 211-214,
battery 802. pymodbus serves the image twice: over Modbus TCP to pysunspec2's own client (which
scans the device), over the RTU line (strict: exception 02 outside the image) to the firmware,
which discovers the model chain and decodes every point; both must agree on every point. The
poller then reads a meter of profile ``sunspec`` (layout found by discovery) and its quantities
must be pysunspec2's values of the mapped points.
"""
import asyncio
import random
import struct
import threading

import pytest

from dingate.testing.poll import wait_until
from dingate.testing.rtu_stream import open_tcp
from dingate.testing.strict import StrictDevice, StrictLine
from gateway.core import sunspec
from gateway.core.meters import validate_bus, validate_meter
from gateway.services.poller import Poller
from gateway.services.rtu import RtuMaster

sunspec2_device = pytest.importorskip("sunspec2.device")
sunspec2_client = pytest.importorskip("sunspec2.modbus.client")

MODELS = (1, 101, 102, 103, 111, 112, 113, 124, 201, 202, 203, 204, 211, 212, 213, 214, 802)
BASE = 40000
NOW = 1795000000
BUS = validate_bus({"timeout_ms": 400, "retries": 0, "interval_ms": 100})


def _value(rng, ptype, size, name):
    if ptype == "sunssf":
        return rng.randint(-3, 2)
    if ptype == "int16":
        return rng.randint(-30000, 30000)
    if ptype in ("uint16", "acc16", "count"):
        return rng.randint(1, 60000)
    if ptype in ("enum16", "enum32"):
        return rng.randint(0, 10)
    if ptype in ("bitfield16",):
        return rng.randint(0, 0x7FFF)
    if ptype in ("int32",):
        return rng.randint(-2_000_000, 2_000_000)
    if ptype in ("uint32", "acc32", "bitfield32"):
        return rng.randint(1, 4_000_000)
    if ptype == "float32":
        return struct.unpack(">f", struct.pack(">f", rng.uniform(-5000, 5000)))[0]
    if ptype == "string":
        return "%s-%d" % (name, rng.randint(0, 999))
    return None


def build_models(seed=18):
    """{model id: pysunspec2 Model} with random values; every 7th point not implemented."""
    rng = random.Random(seed)
    out = {}
    for mid in MODELS:
        m = sunspec2_device.Model(model_id=mid)
        for k, (name, p) in enumerate(m.points.items()):
            if name in ("ID", "L"):
                continue
            ptype = p.pdef["type"]
            if ptype == "pad" or (k % 7 == 3 and ptype != "sunssf"):
                continue  # left "not implemented"
            v = _value(rng, ptype, p.pdef.get("size"), name)
            if v is not None:
                p.value = v
        out[mid] = m
    return out


def image(models):
    """Holding registers {address: word}: "SunS", the models, the end marker."""
    words = [0x5375, 0x6E53]
    for mid in MODELS:
        mb = models[mid].get_mb()
        words += list(struct.unpack(">%dH" % (len(mb) // 2), mb))
    words += [0xFFFF, 0]
    return {BASE + i: w for i, w in enumerate(words)}


class TcpServer:
    """pymodbus Modbus TCP server of one holding-register image, in a thread of its own."""

    def __init__(self, img):
        from pymodbus.datastore import (
            ModbusDeviceContext,
            ModbusSequentialDataBlock,
            ModbusServerContext,
        )

        lo = min(img)
        block = ModbusSequentialDataBlock(lo + 1, [img[a] for a in range(lo, max(img) + 1)])
        self.context = ModbusServerContext(devices=ModbusDeviceContext(hr=block), single=True)
        self.loop = asyncio.new_event_loop()
        self.port = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        wait_until(lambda: self.port, 10, "the Modbus TCP server's port", 0.02)

    def _run(self):
        from pymodbus.server import ModbusTcpServer

        asyncio.set_event_loop(self.loop)

        async def main():
            self.server = ModbusTcpServer(self.context, address=("127.0.0.1", 0))
            task = asyncio.ensure_future(self.server.serve_forever())
            while self.server.transport is None:
                await asyncio.sleep(0.01)
            self.port = self.server.transport.sockets[0].getsockname()[1]
            await task

        try:
            self.loop.run_until_complete(main())
        except asyncio.CancelledError:
            pass

    def stop(self):
        fut = asyncio.run_coroutine_threadsafe(self.server.shutdown(), self.loop)
        fut.result(10)
        self.thread.join(10)


@pytest.fixture(scope="module")
def world():
    models = build_models()
    img = image(models)
    tcp = TcpServer(img)
    line = StrictLine([StrictDevice(7, holding=img)])
    try:
        dev = sunspec2_client.SunSpecModbusClientDeviceTCP(slave_id=1, ipaddr="127.0.0.1",
                                                           ipport=tcp.port, timeout=5)
        dev.scan()
        theirs = {mid: dev.models[mid][0] for mid in MODELS}
        dev.close()
        yield {"line": line, "theirs": theirs}
    finally:
        line.stop()
        tcp.stop()


def _reader(master, address):
    async def read(function, register, count):
        try:
            return await master.read_registers(address, function, register, count, 0, 400)
        except Exception:
            return None

    return read


def ours(line):
    async def main():
        port = await open_tcp("127.0.0.1", line.port)
        master = RtuMaster(port)
        master.configure(BUS)
        read = _reader(master, 7)
        try:
            found = await sunspec.discover(read)
            points = {}
            for mid, addr in found["models"]:
                t = sunspec.table(mid)
                words = await read(3, addr, t["len"])
                points[mid] = sunspec.decode(mid, words)
            return found, points
        finally:
            port.close()

    return asyncio.run(main())


def test_discovery_walks_the_model_chain(world):
    found, _ = ours(world["line"])
    assert found["base"] == BASE
    assert [m[0] for m in found["models"]] == list(MODELS)
    addr = BASE + 2
    for mid, at in found["models"]:
        assert at == addr + 2
        addr += 2 + sunspec.table(mid)["len"]
    theirs = world["theirs"][1]
    assert found["manufacturer"] == theirs.points["Mn"].cvalue
    assert found["serial"] == theirs.points["SN"].cvalue


def test_every_point_equals_what_pysunspec2_reads(world):
    _, points = ours(world["line"])
    compared = implemented = 0
    for mid in MODELS:
        model = world["theirs"][mid]
        mine = points[mid]
        names = [n for n in model.points if n not in ("ID", "L")]
        assert sorted(mine) == sorted(names), mid
        for name in names:
            want = model.points[name].cvalue
            got = mine[name]
            if isinstance(want, float):
                assert got == pytest.approx(want, rel=1e-9, abs=1e-9), (mid, name)
            else:
                assert got == want, (mid, name, got, want)
            compared += 1
            implemented += want is not None
    assert compared > 800 and implemented > 600  # every point of 17 models, most implemented


def test_a_sunspec_meter_reads_its_quantities_as_pysunspec2(world):
    found, _ = ours(world["line"])
    m = validate_meter({"address": 7, "profile": "sunspec", "sunspec": found["models"]}, [])

    async def main():
        port = await open_tcp("127.0.0.1", world["line"].port)
        poller = Poller(RtuMaster(port), [m], BUS, clock=lambda: NOW)
        try:
            await poller.poll_once()
            return poller.readings()[m["id"]]
        finally:
            port.close()

    r = asyncio.run(main())
    assert r["status"] == "ok"
    # what each quantity must be: the last mapped model in the chain that implements it
    want = {}
    for mid, _addr in found["models"]:
        t = sunspec.table(mid)
        for point, q in (t.get("quantities") or {}).items():
            mult = 1
            if isinstance(q, list):
                q, mult = q
            v = world["theirs"][mid].points[point].cvalue
            if v is not None:
                want[q] = v * mult
            else:
                want.pop(q, None)
    assert not [k for k in r["values"] if k.startswith("_")]
    assert set(r["values"]) == set(want)
    for q, v in want.items():
        assert r["values"][q] == pytest.approx(v, rel=1e-6, abs=1e-9), q
