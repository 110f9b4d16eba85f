"""`make bench`'s heap harness, briefly: the probe imports the build's resident modules on the
64-bit interpreter (ROMFS and filesystem) and on the 32-bit WebAssembly port, and the README's
memory block is rendered from the figures (bench/heap32.py, bench/readme.py)."""
import os
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from bench import heap32, readme  # noqa: E402


def test_probes_measure_both_word_sizes():
    if not os.path.isdir(os.path.join(heap32.WASM, "node_modules")) and os.environ.get("CI") != "true":
        pytest.skip("bench/wasm32 not installed (make setup)")
    rom64, fs64, fs32 = heap32.probe64(True), heap32.probe64(False), heap32.probe32()
    assert (rom64["bits"], fs64["bits"], fs32["bits"]) == (64, 64, 32)
    # code executed in place from ROMFS leaves its bytecode out of the heap
    assert 0 < rom64["code"] < fs64["code"]
    assert fs32["code"] > 0 and fs32["data"] > 0 and fs64["data"] > 0
    # every other module the board ships was imported and dropped; the names they interned stay
    assert rom64["failed"] == [] and rom64["residue"] > 0, rom64


def test_readme_block_from_figures(tmp_path):
    f = {"heap_peak_bytes": 300000, "heap_peak_bytes_esp32": 150000, "heap_load_s": 30,
         "heap_peak_bytes_esp32_some-board": 150000, "heap_budget_bytes_some-board": 110000,
         "heap_headroom_bytes_some-board": -40000}
    text = readme.render(f)
    assert text.startswith(readme.BEGIN) and text.endswith(readme.END)
    assert "| some-board | 146 KB | 107 KB | -39 KB | - |" in text
    path = tmp_path / "README.md"
    path.write_text("# x\n\n" + readme.BEGIN + "\nold\n" + readme.END + "\n\nrest\n")
    assert readme.update(f, str(path)) is True
    assert "old" not in path.read_text() and path.read_text().endswith("\n\nrest\n")
    assert readme.update(f, str(path)) is False


def test_readme_block_is_checked_against_its_figures_and_the_board_files(tmp_path):
    # the README in the tree: its block is what its own figures render with today's board
    # files (a board's heap or features_left_out changed -> run the bench or bench.readme)
    assert readme.check() == ""
    with open(readme.README) as f:
        text = f.read()
    assert "features left out: " + ", ".join(readme._board(readme._wroom())["features_left_out"]) in text
    emu = readme._board("emulator")["heap"]
    assert "the emulator board's heap is %.0f KB" % (emu["bytes"] / 1024.0) in text
    # a figure edited by hand is found
    i = text.index("**", text.index("heap_peak_bytes_esp32"))
    bad = tmp_path / "README.md"
    bad.write_text(text[:i] + "**1 KB" + text[text.index("**", i + 2):])
    assert "stale" in readme.check(str(bad))
