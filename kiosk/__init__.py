"""The walk-up kiosk (Qt; ``showdesk kiosk``, entry point ``kiosk.cli.main``):

- ``flow`` (the state machine: Welcome → Who → What → Show → Review → Send → Done) and
  ``session`` (one person's data, wiped when they leave) hold the rules, without widgets;
- ``screens/`` has one module per screen; ``window`` wires them to the flow, the outbox
  (``submit``), the idle watcher (``idle``), "show me" (``showme``) and the admin exit (``admin``);
- ``settings`` reads and checks the ``[kiosk]`` configuration; ``theme`` is the look and the
  touch rules; ``i18n`` loads the Qt translations in ``resources/i18n`` (``i18n_build`` keeps
  them in step with the code);
- ``board`` is the walk-up queue board (``showdesk kiosk --board``).
"""
