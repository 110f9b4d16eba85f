"""A stand-in for the firmware's RtuMaster (services/rtu.py) in poller tests: no line, no bytes."""


class ScriptedMaster:
    """Each address answers from a script of outcomes: "ok" (230.0 in every f32) or an exception
    instance to raise; the last step repeats, and an address without a script always answers.
    ``calls`` lists the (address, retries) of every read."""

    def __init__(self, script):
        self.script = script  # address -> list of "ok" | exception instances
        self.calls = []

    def configure(self, bus):
        pass

    def forget(self, keep):
        pass

    def counters(self, address):
        return {}

    async def read_registers(self, address, function, register, count, retries=None,
                             timeout_ms=None, pause_ms=0):
        self.calls.append((address, retries))
        steps = self.script.get(address, ("ok",))
        step = steps.pop(0) if len(steps) > 1 else steps[0]
        if step != "ok":
            raise step
        return [0x4366, 0] * (count // 2) + [0] * (count % 2)
