"""Notifications to where IT works: Microsoft Teams, Slack and signed webhooks.

The pure parts (``events``, ``rules``, ``payloads``) use only the standard library and
``agent.schema``/``agent.read_models``, so the built-in server can import them; the rest
(``queue``, ``transport``, ``notifier``, ``outbox_hook``, ``slack_files``) is the agent's
delivery path. Nothing is imported here, so importing a pure module stays light.
"""
