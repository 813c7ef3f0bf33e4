"""The receipt printer: Chinese text encoding, ESC/POS rendering and the serial driver."""
