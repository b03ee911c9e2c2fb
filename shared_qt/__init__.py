"""The Qt layer the three desktop apps share: the laptop app (``agent.laptop``), the walk-up
kiosk (``kiosk``) and technician mode (``technician``).

* ``workers``: the background runner every app uses for slow work (capture, encode, upload,
  backend calls), so nothing slow runs on the GUI thread.
* ``markup_editor``: the mark-up editor (arrows, boxes, text, destructive redaction) over the
  GUI-free ``agent.markup`` document.
* ``outbox_bridge``: the outbox's events (``agent.outbox``) as Qt signals.

It imports the GUI-free core (``agent`` outside ``agent.laptop``) and Qt, never one of the apps.
"""
