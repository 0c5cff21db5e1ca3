"""cognn-app: the PyQt6 desktop app over cognn.online and cognn.sources."""
