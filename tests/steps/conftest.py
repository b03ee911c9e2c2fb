# The session's accessibility bus, and the session's Chromium (defined once, in tests/browser).
from tests.browser.conftest import chromium
from tests.steps.atspi_session import atspi_bus

__all__ = ["atspi_bus", "chromium"]
