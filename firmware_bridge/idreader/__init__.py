"""The resident ID-card reader: SAM frames, the text block, the serial driver, the poller."""
