"""Runs under the MicroPython unix port (not CPython): one Modbus RTU master on the emulated line.

    micropython bench/mp_rtu.py MODE SECONDS TIMEOUT_MS RETRIES MONITOR_MS REQUESTS_JSON

MODE ``ours``: gateway.services.rtu.RtuMaster over UartPort(machine.UART(...), DE Pin);
MODE ``gateway``: the gateway's own Poller over that master: the same meters, polled as the
gateway polls them (a silent meter backs off and is only probed every few cycles);
MODE ``umodbus``: micropython-modbus 2.3.7's ``umodbus.serial.Serial`` host (its own timeout:
119 polls of the UART, 3.5 character times apart; TIMEOUT_MS and RETRIES do not apply to it).
``machine`` is the emulator's fake (host/dingate/emulator/mpy on MICROPYPATH, DINGATE_EMU set by
bench/rtu_line.py): bytes leave at the configured baud rate, the DE pin is a real output.

The requests (``[[address, function, register, count], ...]``) are sent round robin for
SECONDS; every finished transaction counts once: answered or failed (timeout, bad frame).
With MONITOR_MS > 0 an asyncio task sleeps MONITOR_MS at a time and records the gap between its
wake-ups, the event-loop stall a transaction causes to every other task.
Prints one JSON line: {"mode", "seconds", "transactions", "answered", "failed", "errors",
"answered_ms", "failed_ms" (mean duration of each kind), "gaps_ms": {"hist": [[0.1 ms bin,
count], ...], "long_us": [gaps of 200 ms and more]}} (rtu_line.run_mp turns it into a list).
"""
import array
import asyncio
import json
import sys
import time

import machine

MODE = sys.argv[1]
SECONDS = float(sys.argv[2])
TIMEOUT_MS = int(sys.argv[3])
RETRIES = int(sys.argv[4])
MONITOR_MS = int(sys.argv[5])
REQUESTS = json.loads(sys.argv[6])
METERS = json.loads(sys.argv[7]) if len(sys.argv) > 7 else []  # [[address, profile], ...]
UART_ID, TX, RX, DE = 2, 17, 16, 4  # boards/emulator.json "rs485"

# gaps as a histogram of 0.1 ms bins below 200 ms, allocated once (a growing list of floats
# fragments the heap until a 16 KB reallocation fails), and a short list of the longer ones
BINS = 2000
hist = array.array("H", [0 for _ in range(BINS)])
long_gaps = []
stop = False


async def monitor():
    last = time.ticks_us()
    while not stop:
        await asyncio.sleep_ms(MONITOR_MS)
        now = time.ticks_us()
        us = time.ticks_diff(now, last)
        last = now
        k = us // 100
        if k < BINS:
            if hist[k] < 65535:
                hist[k] += 1
        elif len(long_gaps) < 2000:
            long_gaps.append(us)


def make_ours():
    from gateway.drivers.uart_port import UartPort
    from gateway.services.rtu import RtuMaster

    uart = machine.UART(UART_ID, baudrate=9600, bits=8, parity=None, stop=1, tx=TX, rx=RX,
                        timeout=0, txbuf=256, rxbuf=512)
    de = machine.Pin(DE, machine.Pin.OUT, value=0)
    master = RtuMaster(UartPort(uart, de), {"timeout_ms": TIMEOUT_MS, "retries": RETRIES})

    async def transact(addr, fc, reg, count):
        await master.read_registers(addr, fc, reg, count)

    return transact


def make_gateway():
    """The Poller as the gateway runs it, one poll_once() per call; counts its transactions."""
    from gateway.services.poller import Poller

    uart = machine.UART(UART_ID, baudrate=9600, bits=8, parity=None, stop=1, tx=TX, rx=RX,
                        timeout=0, txbuf=256, rxbuf=512)
    de = machine.Pin(DE, machine.Pin.OUT, value=0)
    from gateway.drivers.uart_port import UartPort
    from gateway.services.rtu import RtuMaster

    bus = {"timeout_ms": TIMEOUT_MS, "retries": RETRIES}
    master = RtuMaster(UartPort(uart, de), bus)
    meters = [{"id": str(a), "name": "m%d" % a, "address": a, "profile": p, "enabled": True}
              for a, p in METERS]
    poller = Poller(master, meters, bus)

    def total():
        n = 0
        for a, _p in METERS:
            c = master.counters(a)
            n += c.get("requests", 0)
        return n

    async def cycle():
        before = total()
        await poller.poll_once()
        return total() - before

    return cycle


def make_umodbus():
    from umodbus.serial import Serial

    host = Serial(uart_id=UART_ID, baudrate=9600, data_bits=8, stop_bits=1, parity=None,
                  pins=(TX, RX), ctrl_pin=DE)

    async def transact(addr, fc, reg, count):
        if fc == 4:
            host.read_input_registers(addr, reg, count, False)
        else:
            host.read_holding_registers(addr, reg, count, False)

    return transact


async def main():
    global stop
    if MODE == "gateway":
        await run_gateway()
        return
    transact = make_ours() if MODE == "ours" else make_umodbus()
    mon = asyncio.create_task(monitor()) if MONITOR_MS > 0 else None
    await asyncio.sleep_ms(50)
    answered = failed = 0
    ok_ms = fail_ms = 0.0
    errors = {}
    i = 0
    t0 = time.ticks_ms()
    limit = int(SECONDS * 1000)
    while time.ticks_diff(time.ticks_ms(), t0) < limit:
        r = REQUESTS[i % len(REQUESTS)]
        i += 1
        t1 = time.ticks_us()
        try:
            await transact(r[0], r[1], r[2], r[3])
            answered += 1
            ok_ms += time.ticks_diff(time.ticks_us(), t1) / 1000
        except Exception as e:  # noqa: BLE001 - a timeout or a bad frame: one finished transaction
            failed += 1
            fail_ms += time.ticks_diff(time.ticks_us(), t1) / 1000
            k = e.__class__.__name__
            errors[k] = errors.get(k, 0) + 1
        await asyncio.sleep_ms(0)  # the poll loop yields between transactions
    elapsed = time.ticks_diff(time.ticks_ms(), t0) / 1000
    stop = True
    if mon is not None:
        await asyncio.sleep_ms(2 * MONITOR_MS)
        mon.cancel()
    gaps = {"hist": [[k, hist[k]] for k in range(BINS) if hist[k]], "long_us": long_gaps}
    print(json.dumps({"mode": MODE, "seconds": elapsed, "transactions": answered + failed,
                      "answered": answered, "failed": failed, "errors": errors,
                      "answered_ms": ok_ms / answered if answered else None,
                      "failed_ms": fail_ms / failed if failed else None,
                      "gaps_ms": gaps}))


async def run_gateway():
    cycle = make_gateway()
    n = cycles = 0
    t0 = time.ticks_ms()
    limit = int(SECONDS * 1000)
    while time.ticks_diff(time.ticks_ms(), t0) < limit:
        n += await cycle()
        cycles += 1
    elapsed = time.ticks_diff(time.ticks_ms(), t0) / 1000
    print(json.dumps({"mode": MODE, "seconds": elapsed, "transactions": n, "answered": None,
                      "failed": None, "errors": {}, "answered_ms": None, "failed_ms": None,
                      "cycles": cycles, "gaps_ms": {"hist": [], "long_us": []}}))


asyncio.run(main())
