"""Pure rules with no I/O: nothing here imports Flask, paho, serial, escpos or gpiozero."""
