"""The laptop app (``showdesk agent``): tray, report window, step recorder, settings.

Built on the GUI-free core (the rest of ``agent``) and the shared Qt layer (``shared_qt``).
"""
