"""What `dingate build` ships, per feature (the role micropython-lib's manifest.py files play):
the firmware's modules by name. The build ships every feature but those a board file lists in
"features_left_out" (host/dingate/build.py); tests/integration/test_build_manifest.py checks
that the lists hold exactly the modules the firmware imports (boot.py, main.py and what they
reach: imports and the module names given to gateway.core.ondemand), so nothing test-only or
dead goes to the board and nothing the firmware needs is missing.

A new module goes into the feature it belongs to ("base": what every gateway runs). A base
module reaches a feature's modules only where it checks the board's "features_left_out" first
(services/optional.py, web/dispatch.py, web/server.py, app.py, the backup's documents), so a
board may leave any feature out (tests/integration/test_features_left_out.py).
"""

FEATURES = {
    "base": (
        "gateway", "gateway.app", "gateway.core", "gateway.core.accounts", "gateway.core.alarms",
        "gateway.core.auth", "gateway.core.billing", "gateway.core.check",
        "gateway.core.configstore", "gateway.core.demand", "gateway.core.errors", "gateway.core.event_codes",
        "gateway.core.eventlog", "gateway.core.fwswitch", "gateway.core.history",
        "gateway.core.meters", "gateway.core.modbus", "gateway.core.ntp", "gateway.core.ondemand",
        "gateway.core.outbox", "gateway.core.outputs", "gateway.core.panel",
        "gateway.core.passwords", "gateway.core.profiles", "gateway.core.quantities",
        "gateway.core.records", "gateway.core.registers", "gateway.core.ring",
        "gateway.core.settings", "gateway.core.statement", "gateway.core.sunspec",
        "gateway.core.tariff", "gateway.core.ticks", "gateway.core.tz",
        "gateway.core.tzrules", "gateway.core.values", "gateway.core.wifi_config",
        "gateway.core.wifi_state",
        "gateway.drivers", "gateway.drivers.board", "gateway.drivers.panel_io",
        "gateway.drivers.relay", "gateway.drivers.rs485", "gateway.drivers.system",
        "gateway.drivers.uart_port", "gateway.drivers.watchdog", "gateway.drivers.wifi",
        "gateway.lib", "gateway.lib.listener", "gateway.services", "gateway.services.alarms",
        "gateway.services.clock", "gateway.services.clock_set", "gateway.services.heapmark", "gateway.services.identity",
        "gateway.services.meters", "gateway.services.mqtt_setup", "gateway.services.optional",
        "gateway.services.outputs", "gateway.services.panel", "gateway.services.poller",
        "gateway.services.recorder", "gateway.services.rtu", "gateway.services.scan",
        "gateway.services.storage", "gateway.services.store", "gateway.services.tasks",
        "gateway.services.users", "gateway.services.wifi", "gateway.web", "gateway.web.access",
        "gateway.web.api_history", "gateway.web.api_live", "gateway.web.api_login",
        "gateway.web.api_meters", "gateway.web.api_outputs", "gateway.web.api_system",
        "gateway.web.api_users", "gateway.web.api_wifi", "gateway.web.captive",
        "gateway.web.dispatch", "gateway.web.guard", "gateway.web.http", "gateway.web.pages",
        "gateway.web.second_port", "gateway.web.server", "gateway.web.upload",
    ),
    "genset": (
        "gateway.core.genset", "gateway.core.genset_config", "gateway.drivers.digital_input",
        "gateway.services.genset", "gateway.services.genset_setup", "gateway.web.api_genset",
    ),
    "mqtt": (
        "gateway.core.ha_discovery", "gateway.core.mqtt_config", "gateway.core.mqtt_packets",
        "gateway.core.mqtt_topics", "gateway.lib.mqtt",
        "gateway.services.mqtt_commands", "gateway.services.uplink", "gateway.web.api_mqtt",
    ),
    "modbus_tcp": (
        "gateway.core.modbus_map", "gateway.core.modbus_tcp_config", "gateway.core.sunspec_map",
        "gateway.services.modbus_tcp", "gateway.web.api_modbus_tcp",
    ),
    "billing": (  # the statements API (the month close, core.statement and tariff, is storage's)
        "gateway.web.api_billing",
    ),
    "metrics": (
        "gateway.core.openmetrics", "gateway.web.api_metrics",
    ),
    "backup": (
        "gateway.core.backup", "gateway.web.api_backup",
    ),
    "firmware_update": (
        "gateway.core.fwbundle", "gateway.web.api_firmware",
    ),
    "captive_dns": (
        "gateway.core.dns", "gateway.services.captive_dns",
    ),
}
