"""The peer master: pymodbus' async serial client on the emulated line (a child process).

    python bench/pymodbus_peer.py LINE_PORT CYCLES TIMEOUT_S REQUESTS_JSON

``AsyncModbusSerialClient("socket://127.0.0.1:LINE_PORT")`` (pyserial's socket URL: the line's
raw byte stream, as the gateway's UART sees it; 9600 8N1) sends every request of
``[[address, function, register, count], ...]`` one after the other, CYCLES times, each
``await``-ed as an application's poll loop would. Prints one JSON line:
{"cycles_s": [...], "answered", "failed", "client": "pymodbus x.y.z"}.
"""
import asyncio
import json
import logging
import sys
import time

import pymodbus
from pymodbus.client import AsyncModbusSerialClient


async def main(port, cycles, timeout_s, requests):
    logging.getLogger("pymodbus").setLevel(logging.CRITICAL)
    client = AsyncModbusSerialClient("socket://127.0.0.1:%d" % port, baudrate=9600, bytesize=8,
                                     parity="N", stopbits=1, timeout=timeout_s, retries=0)
    if not await client.connect():
        raise SystemExit("pymodbus client could not connect to the line")
    answered = failed = 0
    cycle_times = []
    try:
        for _ in range(cycles):
            t0 = time.perf_counter()
            for addr, fc, reg, count in requests:
                read = client.read_input_registers if fc == 4 else client.read_holding_registers
                try:
                    rr = await read(reg, count=count, device_id=addr)
                    if rr.isError():
                        failed += 1
                    else:
                        answered += 1
                except Exception:  # noqa: BLE001 - timeout / bad frame: counted as failed
                    failed += 1
            cycle_times.append(time.perf_counter() - t0)
    finally:
        client.close()
    print(json.dumps({"cycles_s": cycle_times, "answered": answered, "failed": failed,
                      "client": "pymodbus %s" % pymodbus.__version__}))


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]),
                     json.loads(sys.argv[4])))
