# The session's accessibility bus (the session's Chromium comes from tests/fixtures/chromium.py).
from tests.steps.atspi_session import atspi_bus

__all__ = ["atspi_bus"]
