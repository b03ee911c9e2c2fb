"""``showdesk notify``: the targets, their delivery log, a test notification, a URL or secret into the keyring.

Returns exit codes as ``agent.cli.Exit`` numbers them (0 done, 1 not delivered, 2 usage,
5 configuration), so the command line maps them one to one.
"""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Final, TextIO

from agent.notify.notifier import KEYRING_SERVICE, Notifier, NotifyError, send_test

if TYPE_CHECKING:
    from agent.config import Config

EXIT_OK: Final = 0
EXIT_NOT_DELIVERED: Final = 1
EXIT_USAGE: Final = 2
EXIT_CONFIG: Final = 5
ACTIONS: Final = ("list", "test", "log", "flush", "store")


def run_notify(
    config: Config,
    action: str,
    name: str | None = None,
    *,
    as_json: bool = False,
    out: TextIO | None = None,
    secret_input: TextIO | None = None,
) -> int:
    out = out or sys.stdout
    from agent.config import ConfigError

    if action == "store":
        return _store(name, secret_input or sys.stdin, out)
    try:
        notifier = Notifier.from_config(config)
    except ConfigError as exc:
        print(f"configuration: {exc}", file=out)
        return EXIT_CONFIG
    if action == "list":
        rows: list[dict[str, object]] = [
            {"name": t.name, "kind": t.kind, "url": t.url.describe(), "events": list(t.events),
             "sites": list(t.sites) or "all", "categories": list(t.categories) or "all",
             "walkup_minutes": t.walkup_minutes, "enabled": t.enabled}
            for t in notifier.targets
        ]
        pending = len(notifier.queue.pending())
        if as_json:
            print(json.dumps({"targets": rows, "pending": pending}, indent=1), file=out)
        else:
            if not rows:
                print("no notification targets: add [[notify]] tables (docs/notifications.md)", file=out)
            for t in notifier.targets:
                print(f"{t.name}  {t.kind}  URL from {t.url.describe()}  events {', '.join(t.events)}  "
                      f"sites {', '.join(t.sites) or 'all'}  categories {', '.join(t.categories) or 'all'}"
                      + ("" if t.enabled else "  (disabled)"), file=out)
            print(f"{pending} notification(s) waiting", file=out)
        return EXIT_OK
    if action == "log":
        records = notifier.log_records()
        if as_json:
            print(json.dumps([r.__dict__ for r in records], indent=1), file=out)
        for record in [] if as_json else records:
            print(record.describe(), file=out)
        return EXIT_OK
    if action == "flush":
        outcomes = notifier.deliver_due()
        for outcome in outcomes:
            print(f"{outcome.job.target}  {outcome.job.event.kind}  {outcome.status}  {outcome.detail}", file=out)
        return EXIT_OK if all(o.status == "delivered" for o in outcomes) else EXIT_NOT_DELIVERED
    if action == "test":
        if not name:
            print("`showdesk notify test` needs a target's name (see `showdesk notify list`)", file=out)
            return EXIT_USAGE
        try:
            outcome = send_test(notifier, name)
        except NotifyError as exc:
            print(str(exc), file=out)
            return EXIT_CONFIG
        print(f"{name}: {outcome.status}" + (f" ({outcome.detail})" if outcome.detail else ""), file=out)
        return EXIT_OK if outcome.status == "delivered" else EXIT_NOT_DELIVERED
    print(f"unknown action {action!r}; one of {', '.join(ACTIONS)}", file=out)
    return EXIT_USAGE


def _store(name: str | None, secret_input: TextIO, out: TextIO) -> int:
    """Read a webhook URL or signing secret from standard input (never the command line) into the keyring."""
    if not name:
        print("`showdesk notify store` needs the keyring entry's name (a target's url_keyring or secret_keyring)",
              file=out)
        return EXIT_USAGE
    value = secret_input.readline().strip()
    if not value:
        print("nothing on standard input: pipe the URL or secret in", file=out)
        return EXIT_USAGE
    import keyring
    from keyring.errors import KeyringError

    try:
        keyring.set_password(KEYRING_SERVICE, name, value)
    except (KeyringError, RuntimeError) as exc:
        print(f"the OS keyring refused it: {exc}", file=out)
        return EXIT_CONFIG
    print(f"stored in the OS keyring as {KEYRING_SERVICE} / {name}", file=out)
    return EXIT_OK
