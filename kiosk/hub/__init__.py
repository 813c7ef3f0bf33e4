"""The hub: ticket numbering and other shared records, MQTT workers, the staff console.

Wiring happens only in :mod:`kiosk.hub.service` (and in tests); importing any module here
opens no database, socket or thread.
"""
