"""The MQTT contract: topics, payload types, the envelope. Every sender and receiver uses it."""
