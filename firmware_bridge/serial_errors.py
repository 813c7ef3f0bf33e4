"""What a serial port raises when its device fails or goes away under it."""

from __future__ import annotations

import termios

import serial

# termios.error is no OSError: pyserial lets it through from tcflush and tcdrain when the
# device went away under an open port (EIO on a pty whose other end closed, a USB unplug).
PORT_ERRORS: tuple[type[Exception], ...] = (serial.SerialException, OSError, termios.error)
# Opening a port also raises ValueError for settings the port cannot take.
OPEN_ERRORS: tuple[type[Exception], ...] = (*PORT_ERRORS, ValueError)
