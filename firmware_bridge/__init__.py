"""The kiosk's firmware bridge: the only owner of its devices, and their simulators."""
