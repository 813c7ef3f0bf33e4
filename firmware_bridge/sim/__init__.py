"""Device simulators that speak the devices' own bytes over a pty."""
