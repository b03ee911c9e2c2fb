"""The `showdesk` command: routes each subcommand to the layer that owns it.

This shell sits above every layer and imports each lazily, so `showdesk capture`
pays for neither Qt nor the server's web stack.
"""
