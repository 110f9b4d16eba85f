"""General-purpose libraries the gateway carries (not gateway services): the MQTT client."""
