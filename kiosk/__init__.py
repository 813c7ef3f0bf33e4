"""Touch kiosks, hub and firmware bridge for community party-mass service centres."""

__version__ = "0.1.0"
