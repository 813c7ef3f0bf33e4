"""The MQTT contract: topics, payload types, the envelope. Every sender and receiver uses it."""

# Load the payload types first: kiosk.protocol.cases builds on them and messages imports
# it back, so either module may be imported first.
from kiosk.protocol import messages as _messages  # noqa: F401
