"""One HTTP POST to a notification target, and what its answer means for the queue.

urllib from the standard library: a notification is one small JSON POST, and the
environment's proxy settings apply as for any other program. The URL is a secret and
never appears in an error or a log line: only its host does.
"""

from __future__ import annotations

import email.utils
import ssl
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Final
from urllib.parse import urlsplit

DEFAULT_TIMEOUT_SECONDS: Final = 10.0
MAX_ANSWER_BYTES: Final = 4096  # enough for any error a target explains itself with
MAX_RETRY_AFTER_SECONDS: Final = 3600.0
# Answers that mean "this request will never be taken": retrying cannot help. A redirect is one:
# Teams, Slack and a webhook answer where they are, and urllib would turn a redirected POST
# into a GET whose 200 would look like a delivery.
PERMANENT_STATUSES: Final = frozenset({301, 302, 303, 307, 308, 400, 401, 403, 404, 405, 410, 413, 415, 422})
USER_AGENT: Final = "ShowDesk-notify/1"


@dataclass(frozen=True)
class Answer:
    """What one POST came to: ``status`` 0 when nothing answered (``reason`` says why)."""

    status: int
    body: bytes = b""
    retry_after: float | None = None
    reason: str = ""

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def permanent(self) -> bool:
        return self.status in PERMANENT_STATUSES

    def describe(self) -> str:
        if self.status == 0:
            return self.reason
        text = self.body[:200].decode("utf-8", "replace").strip()
        return f"HTTP {self.status}" + (f": {' '.join(text.split())}" if text else "")


Post = Callable[[str, bytes, Mapping[str, str], float], Answer]


def redact(url: str) -> str:
    """What of a webhook URL may be shown: scheme and host (the path and query hold the secret)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname or '?'}/…" if parts.scheme else "(no URL)"


def retry_after_seconds(value: str | None, now: float | None = None) -> float | None:
    """Retry-After as seconds from now: a number of seconds or an HTTP date; None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return min(float(value), MAX_RETRY_AFTER_SECONDS)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    delay = when.timestamp() - (time.time() if now is None else now)
    return min(max(delay, 0.0), MAX_RETRY_AFTER_SECONDS)


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None  # urllib then raises HTTPError with the 3xx: reported, not followed


def post(url: str, body: bytes, headers: Mapping[str, str], timeout: float = DEFAULT_TIMEOUT_SECONDS) -> Answer:
    """POST ``body`` as JSON to ``url``; never raises for network trouble (an ``Answer`` with status 0)."""
    request = urllib.request.Request(url, data=body, method="POST")  # noqa: S310 - scheme checked by the caller
    request.add_header("Content-Type", headers.get("Content-Type", "application/json; charset=utf-8"))
    request.add_header("User-Agent", USER_AGENT)
    for name, value in headers.items():
        if name.lower() != "content-type":
            request.add_header(name, value)
    try:
        # Built per post: the proxy handler reads the environment's proxy settings as they are now.
        opener = urllib.request.build_opener(_NoRedirects)
        with opener.open(request, timeout=timeout) as response:
            return Answer(status=response.status, body=response.read(MAX_ANSWER_BYTES))
    except urllib.error.HTTPError as exc:
        try:
            data = exc.read(MAX_ANSWER_BYTES)
        except OSError:
            data = b""
        finally:
            exc.close()  # the error holds the connection open until closed
        return Answer(status=exc.code, body=data, retry_after=retry_after_seconds(exc.headers.get("Retry-After")))
    except urllib.error.URLError as exc:
        return Answer(status=0, reason=f"cannot reach {redact(url)}: {_reason(exc.reason)}")
    except TimeoutError:
        return Answer(status=0, reason=f"{redact(url)} did not answer within {timeout:.0f} s")
    except (OSError, ssl.SSLError, ValueError) as exc:
        return Answer(status=0, reason=f"cannot post to {redact(url)}: {type(exc).__name__}")


def _reason(reason: object) -> str:
    if isinstance(reason, TimeoutError):
        return "no answer in time"
    if isinstance(reason, OSError) and reason.strerror:
        return reason.strerror
    # str() of some reasons repeats the address; the type is enough and never holds the path.
    return type(reason).__name__
