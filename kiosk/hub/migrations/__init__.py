"""Alembic migrations of the hub's database; run them with :func:`kiosk.hub.db.migrate`."""
