"""Integration fixtures: a real `dingate emulate` (firmware under MicroPython) on free ports."""
import os

import pytest

from dingate.testing.emuproc import EmulatorProcess

ARTIFACTS = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(__file__))), "build",
                         "test-artifacts")


@pytest.fixture(scope="module")
def emulator():
    with EmulatorProcess() as emu:
        yield emu


@pytest.fixture()
def artifacts():
    os.makedirs(ARTIFACTS, exist_ok=True)
    return ARTIFACTS
