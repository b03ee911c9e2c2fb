"""Technician mode (``showdesk tech``): the live queue, the ticket viewer, work actions, figures.

Layers inside this package, each importing only the ones before it:

* ``model``, ``sysinfo_tree``, ``settings``: plain data and rules (filters, sort keys, read
  state, step arrangement, the system-information tree, the ``[tech]`` table); no Qt, no network.
* ``client``: the one place that talks to a backend, through the connector interface, plus the
  built-in server's extras (changes feed, figures, assign, walk-up calls) until the connector
  interface offers them. No Qt.
* ``workers``, ``session``, ``queue_model``: Qt objects that run the client off the GUI thread
  and hold the state the widgets observe.
* ``signin``, ``queue_view``, ``image_view``, ``viewer``, ``note_dialog``, ``dashboard``, ``help``,
  ``window``: widgets; they call the session and show what it reports.
* ``cli``: ``showdesk tech``.
"""
