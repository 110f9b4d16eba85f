"""`make bench` (``python -m bench``): every benchmark, build/bench.json and a table.

Sections (each a module with ``run(...)`` returning a flat dict of named figures):

- ``bus_cycle``   32-meter poll cycle of the emulated gateway ÷ the wire-time limit (wire.py);
                  peer: pymodbus' async client on the same line (pymodbus_peer.py)
- ``rtu_tps``     transactions/s of our RTU master vs umodbus' host on the MicroPython unix port,
                  one dead meter of 4; event-loop stalls of both (mp_rtu.py, rtu_line.py)
- ``http_load``   API p95 latency while 32 meters (4 dead) are polled; the heap mark meanwhile
- ``heap_peak``   heap.py: the true heap peak (``heap_peak_bytes``) under the WROOM tier's load
                  (32 meters, MQTT + discovery, API clients), then the same load on the WROOM
                  board file as it ships (its features_left_out not built, 400k of heap:
                  ``heap_peak_wroom_bytes``) and the live heap after it (``heap_live_*``);
                  heap32.py: ESP32 bytes per board (32-bit WebAssembly MicroPython + decision
                  0003), what on-demand code leaves behind (``heap_ondemand_residue_*``),
                  README's memory figures
- ``storage``     storage_bench.py: flash bytes per stored reading, days per MiB, bytes per hour
- ``mqtt_fleet``  mqtt_fleet.py: 20 MicroPython gateways publishing to a local mosquitto

``python -m bench --only rtu_tps,storage`` runs some of them; ``--quick`` shortens the windows.
The emulator sections run at the board's heap cap (boards/emulator.json) unless DINGATE_HEAPSIZE
is set; if the firmware runs out of heap there, the section is run again with 400k and
bench.json says so (``emulator_heapsize_override``).
"""
