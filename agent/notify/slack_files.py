"""Screenshots to a Slack channel through the external upload API (``files.upload`` is retired).

Three steps per the Slack documentation: ``files.getUploadURLExternal`` (filename, length) gives
an upload URL and a file id; the bytes are POSTed to that URL; ``files.completeUploadExternal``
shares every uploaded file to the channel in one message. Only for targets with ``images = true``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Final
from urllib.parse import urlencode

from agent.notify.transport import Answer, Post

SLACK_API: Final = "https://slack.com/api"
MAX_IMAGES: Final = 3
MAX_IMAGE_BYTES: Final = 5 * 1024 * 1024
# Slack's `error` values that no retry can fix: the token, its scopes, the channel, the arguments.
PERMANENT_ERRORS: Final = frozenset(
    {
        "not_authed",
        "invalid_auth",
        "account_inactive",
        "token_revoked",
        "token_expired",
        "no_permission",
        "missing_scope",
        "not_allowed_token_type",
        "channel_not_found",
        "not_in_channel",
        "invalid_arguments",
        "file_not_found",
        "invalid_channel",
    }
)


def _api_answer(answer: Answer, method: str) -> tuple[Answer, dict[str, object]]:
    """A Web API call's answer: HTTP first, then Slack's own ``ok``/``error`` (an HTTP 200 may still be an error)."""
    if not answer.ok:
        return answer, {}
    try:
        data = json.loads(answer.body)
    except ValueError:
        return Answer(status=0, reason=f"{method}: the answer is not JSON"), {}
    if not isinstance(data, dict):
        return Answer(status=0, reason=f"{method}: the answer is not a JSON object"), {}
    if data.get("ok") is True:
        return answer, data
    error = str(data.get("error", "unknown_error"))
    if error in PERMANENT_ERRORS:
        # Refused for good: reported as the 400 the queue treats as final, with Slack's word for it.
        return Answer(status=400, body=f"{method}: {error}".encode()), data
    return Answer(status=0, reason=f"{method}: {error}"), data


def share_images(
    send: Post,
    *,
    token: str,
    channel_id: str,
    images: Sequence[tuple[str, bytes]],
    comment: str,
    timeout: float,
    api: str = SLACK_API,
) -> Answer:
    """Upload ``images`` (name, bytes) and share them to ``channel_id`` with ``comment``; the last answer."""
    auth = {"Authorization": f"Bearer {token}"}
    file_refs = []
    for name, data in images[:MAX_IMAGES]:
        if len(data) > MAX_IMAGE_BYTES:
            continue
        asked, reply = _api_answer(
            send(
                f"{api}/files.getUploadURLExternal",
                urlencode({"filename": name, "length": len(data)}).encode("ascii"),
                {**auth, "Content-Type": "application/x-www-form-urlencoded"},
                timeout,
            ),
            "files.getUploadURLExternal",
        )
        if not asked.ok:
            return asked
        upload_url, file_id = str(reply.get("upload_url", "")), str(reply.get("file_id", ""))
        if not upload_url.startswith(("https://", "http://")) or not file_id:
            return Answer(status=0, reason="files.getUploadURLExternal: no upload_url or file_id in the answer")
        uploaded = send(upload_url, data, {"Content-Type": "application/octet-stream"}, timeout)
        if not uploaded.ok:
            return uploaded
        file_refs.append({"id": file_id, "title": name})
    if not file_refs:
        return Answer(status=204, reason="no screenshot small enough to share")
    completed, _ = _api_answer(
        send(
            f"{api}/files.completeUploadExternal",
            json.dumps({"files": file_refs, "channel_id": channel_id, "initial_comment": comment}).encode("utf-8"),
            {**auth, "Content-Type": "application/json; charset=utf-8"},
            timeout,
        ),
        "files.completeUploadExternal",
    )
    return completed
