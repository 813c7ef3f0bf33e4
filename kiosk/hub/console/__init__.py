"""The staff console: Flask blueprints, templates and static files (see ``kiosk.hub.app``)."""
