"""ShowDesk kiosk and technician mode (Qt)."""
