from tests.steps.atspi_session import atspi_bus

__all__ = ["atspi_bus"]
