"""The Qt layer the three desktop apps share: the laptop app (``agent.laptop``), the walk-up
kiosk (``kiosk``) and technician mode (``technician``).

* ``workers``: the background runner every app uses for slow work (capture, encode, upload,
  backend calls), so nothing slow runs on the GUI thread.
* ``markup_editor``: the mark-up editor (arrows, boxes, text, destructive redaction) over the
  GUI-free ``agent.markup`` document.
* ``outbox_bridge``: the outbox's events (``agent.outbox``) as Qt signals, upload progress
  thinned to the steps a bar shows.
* ``submission``: one report's way out: its bundle put in the outbox on the runner, then that
  report's events (queued, sending, delivered, not yet, dead, put failed) as hooks an app fills in.
* ``grab_thread``: the one long-lived capture thread that owns the one capturer.

It imports the GUI-free core (``agent`` outside ``agent.laptop``) and Qt, never one of the apps.
"""
