from gateway.core import openmetrics as om


def test_label_values_are_escaped():
    line = om.sample("dingate_power_w", (("meter", "3"), ("name", 'Flat "B"\\2\nx')), 1.5)
    assert line == 'dingate_power_w{meter="3",name="Flat \\"B\\"\\\\2\\nx"} 1.5\n'


def test_numbers():
    assert om.number(True) == "1" and om.number(False) == "0"
    assert om.number(42) == "42"
    assert float(om.number(0.97)) == 0.97
    assert om.number(float("nan")) == "NaN"
    assert om.number(float("inf")) == "+Inf" and om.number(float("-inf")) == "-Inf"


def test_family_and_plain_sample():
    assert om.family("dingate_uptime_seconds", "gauge", "time since boot") == (
        "# TYPE dingate_uptime_seconds gauge\n# HELP dingate_uptime_seconds time since boot\n")
    assert om.sample("dingate_uptime_seconds", (), 7) == "dingate_uptime_seconds 7\n"
    assert om.EOF == "# EOF\n"
