"""The kiosk's screens, one module each; ``kiosk.window`` drives them from ``kiosk.flow``."""
