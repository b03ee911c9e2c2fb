"""The requester page's defences: response headers, one-time form tokens, cross-site posts, shown text.

The link is the only credential (no account, no cookie), so:

* it never leaks through a Referer (``Referrer-Policy: no-referrer``), a frame (``frame-ancestors
  'none'``) or a third-party resource (the CSP allows this origin only; no inline script);
* a form carries a token signed with the link's own secret, so a post needs the link, and the
  token's random part is a one-time nonce the store spends with the post (a replay records
  nothing); a browser's ``Sec-Fetch-Site: cross-site`` post is refused as well;
* every text a person or technician wrote is escaped by the templates, and bidirectional
  control characters are shown as visible marks inside an isolating element, so a U+202E
  cannot turn the text around it.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
from typing import Final

from markupsafe import Markup, escape

FORM_TOKEN_SECONDS: Final = 86_400  # the same day as the store keeps spent nonces (FORM_NONCE_SECONDS)
_FORM_TOKEN_RE: Final = re.compile(r"^([0-9]{1,12})\.([A-Za-z0-9_-]{16,64})\.([0-9a-f]{32})$")

CONTENT_SECURITY_POLICY: Final = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
PAGE_HEADERS: Final[dict[str, str]] = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Permissions-Policy": "camera=(self), geolocation=(), microphone=()",
    # The page shows private things; a shared computer's cache must not keep them.
    "Cache-Control": "no-store",
}
# The person's photos and screenshots: shown in the page only, never run as a document.
IMAGE_HEADERS: Final[dict[str, str]] = {
    "Content-Security-Policy": "default-src 'none'; sandbox",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Cross-Origin-Resource-Policy": "same-origin",
    # A file id names one stored file for ever; the browser may keep it, but only for this person.
    "Cache-Control": "private, max-age=86400, immutable",
}

# Bidirectional embedding, override and isolate controls, and the implicit marks.
_BIDI_CONTROLS: Final = re.compile("[\u200e\u200f\u202a-\u202e\u2066-\u2069\u061c]")


def make_form_token(link_secret: str, now: float | None = None) -> str:
    """``issued.nonce.signature``: signed with the link's secret, so it is bound to this link."""
    issued = int(time.time() if now is None else now)
    nonce = secrets.token_urlsafe(16)
    return f"{issued}.{nonce}.{_sign(link_secret, issued, nonce)}"


def check_form_token(link_secret: str, token: str, now: float | None = None) -> str | None:
    """The token's one-time nonce if it is ours, for this link and not expired; else None."""
    match = _FORM_TOKEN_RE.match(token)
    if match is None:
        return None
    issued, nonce, signature = int(match.group(1)), match.group(2), match.group(3)
    if not hmac.compare_digest(_sign(link_secret, issued, nonce), signature):
        return None
    age = (time.time() if now is None else now) - issued
    if not 0 <= age <= FORM_TOKEN_SECONDS:
        return None
    return nonce


def _sign(link_secret: str, issued: int, nonce: str) -> str:
    return hmac.new(link_secret.encode(), f"form:{issued}:{nonce}".encode(), hashlib.sha256).hexdigest()[:32]


def is_cross_site(sec_fetch_site: str | None) -> bool:
    """A browser's own word that a post comes from another site (older browsers send nothing)."""
    return sec_fetch_site is not None and sec_fetch_site.strip().lower() == "cross-site"


def shown_text(text: object) -> Markup:
    """A person's or technician's text for the page: escaped, bidi controls made visible, isolated.

    Jinja's autoescape already escapes markup; this also keeps a right-to-left override from
    reordering what follows it, and ``<bdi>`` isolates the text from the page around it.
    """
    escaped = str(escape(str(text)))
    visible = _BIDI_CONTROLS.sub(lambda m: f'<span class="ctl">[U+{ord(m.group(0)):04X}]</span>', escaped)
    return Markup('<bdi dir="auto">') + Markup(visible) + Markup("</bdi>")  # noqa: S704 - escaped above
