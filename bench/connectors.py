"""Ticket creation through the Request Tracker connector against the same request made with curl.

One run on loopback, three peers timed in turns:

* **curl**: the create request the connector sends (``POST /REST/2.0/ticket``, the same
  ``JSON`` field and the same attachment parts, written to files first), made by the curl
  command-line tool. Timed twice: curl's own ``time_total`` (the transfer and RT's work) and the
  wall time of the whole process.
* **RT connector**: ``RTConnector.submit`` of the same report by a long-lived connector (as the
  agent's sender keeps one): the replay check (one TicketSQL query), fitting to RT's limit,
  building the body and the multipart request, the create. And by a new connector per report
  (as one ``showdesk submit`` process does): the queue check and the check that RT kept every
  file come on top (two more requests).
* **built-in server**: the built-in connector submitting the same report to ShowDesk's own
  server (tests/fixtures/server.py's ``ServerProcess``).

Each report carries three 1920×1080 desktop-like screenshots encoded the way a capture is by
default (lossless WebP), a log and the system information. RT runs from Debian's packages
(tests/fixtures/start-rt.sh; the first run installs them, about a minute; needs root and apt).

    .venv/bin/python bench/connectors.py [--rounds 12]

Target: the connector within 1.1× of curl's time_total for the same ticket.

The connectors added for issue 20 (Jira Service Management, a plain Jira project, ServiceNow,
Zendesk, Freshservice, GitLab: against the local stand-ins of tests/connectors/contract.py; Redmine:
live, from tests/fixtures/start-redmine.sh) are each timed against a raw HTTP client
(``http.client``, one kept-alive connection) sending the same requests in the same order: the replay
check, the look-ups the connector makes (a Jira user, a ServiceNow caller), every upload, the create.
The same requests means the same method, path, query, body size and header names (the connector's
User-Agent, Accept, requests' Accept-Encoding and Connection): the stand-in records both peers'
requests for one report and the run stops if they differ. The raw client's bodies that need no
answer from the server are built before its clock starts, as curl's files are; the connector's time
includes building them (fitting check, readable body, multipart). Each connector is handed the report
as the outbox's sender hands it, read back from its bundle file (so its manifest comes as stored, as
in use); the raw client serialises the manifest itself, before its clock. A bare ``requests.Session``
sending the same requests is timed too, for scale. Same report size as above.

Each stand-in runs twice: answering at once (the target's rows: on loopback a call takes about
0.4 ms, so the ratio weighs each layer's fixed cost per call) and answering each request after
``SERVICE_DELAY_SECONDS`` (20 ms, about what a hosted service takes), printed beside it.

    .venv/bin/python bench/connectors.py --only new [--rounds 12] [--systems jira,redmine] [--processes 5]

Target: each connector within 1.1× of the raw client against the stand-in that answers at once
(Redmine: live). A ratio is the median of the rounds' own ratios: each round times the peers back
to back in rotating order, so a busy moment of a shared machine weighs on all of them. One
process's ratio depends on that process (``bench_new_in_processes`` says why): ``--processes N``
judges the median of N processes' ratios.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import functools
import http.client
import io
import json
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlencode, urlsplit

import requests
from PIL import Image, ImageDraw, ImageFilter

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from agent.bundle import AttachmentDraft, ReportBundle, StepDraft, build_bundle
from agent.connectors.base import Connector
from agent.connectors.body import render
from agent.connectors.builtin import BuiltinConnector
from agent.connectors.common import attachment_name, manifest_name
from agent.connectors.fitting import fit_bundle
from agent.connectors.freshservice import FreshserviceConnector
from agent.connectors.gitlab import GitLabConnector, markdown_description
from agent.connectors.httpclient import MultipartForm, Part, user_agent
from agent.connectors.jira import JiraConnector, adf
from agent.connectors.redmine import RedmineConnector
from agent.connectors.rt import RTConnector
from agent.connectors.servicenow import ServiceNowConnector
from agent.connectors.zendesk import ZendeskConnector
from agent.schema import Report, Reporter, Source
from tests.fixtures.rt import add_report_field, rt_available, start_rt
from tests.fixtures.server import ServerProcess

T = TypeVar("T")
TARGET_RATIO = 1.1
WORDS = ("printer", "offline", "queue", "job", "0x80070005", "retry", "spooler", "the", "error", "connection", "out")
SYSINFO = {
    "os": {"name": "Debian GNU/Linux 12", "architecture": "x86_64", "kernel": "6.1.0", "hostname": "pc-17",
           "user": "ann", "uptime_seconds": 86400},
    "memory": {"total": 8 * 1024**3, "available": 3 * 1024**3, "percent": 62.5},
}


def desktop(seed: int, size: tuple[int, int] = (1920, 1080)) -> bytes:
    """A busy 1080p desktop (photo-like wallpaper, windows of text), as lossless WebP like a capture."""
    rng = random.Random(seed)
    width, height = size
    gradient = Image.linear_gradient("L").resize(size).convert("RGB")
    grain = Image.frombytes("RGB", (width // 4, height // 4), rng.randbytes((width // 4) * (height // 4) * 3))
    image = Image.blend(gradient, grain.resize(size, Image.Resampling.BILINEAR).filter(ImageFilter.GaussianBlur(5)),
                        0.25)
    draw = ImageDraw.Draw(image)
    for window in range(5):
        left, top = rng.randrange(0, width // 2), rng.randrange(0, height // 2)
        right, bottom = left + rng.randrange(400, width // 2), top + rng.randrange(300, height // 2)
        draw.rectangle((left, top, right, bottom), fill=(250, 250, 250), outline=(90, 90, 90))
        draw.rectangle((left, top, right, top + 30), fill=(40 + 40 * window, 90, 170))
        for line in range(top + 40, bottom - 16, 17):
            text = " ".join(rng.choice(WORDS) for _ in range(rng.randrange(4, 14)))
            draw.text((left + 10, line), text, fill=(rng.randrange(60), rng.randrange(60), rng.randrange(60)))
    buffer = io.BytesIO()
    image.save(buffer, "WEBP", lossless=True, quality=0, method=0)
    return buffer.getvalue()


def report(screens: list[bytes]) -> ReportBundle:
    base = Report(
        id=uuid.uuid4(),
        category="Printer",
        description="The printer on floor 2 is offline; every job fails with 0x80070005.",
        reporter=Reporter(name="Ann Example", email="ann@example.org"),
        source=Source(kind="kiosk", id="kiosk-lobby", site="HQ", app_version="0.1.0"),
    )
    steps = [StepDraft(image=data, width=1920, height=1080, captured_at=datetime.now(UTC),
                       caption=f"Step {n}: the dialog after clicking Print") for n, data in enumerate(screens, 1)]
    log = AttachmentDraft(b"spooler: job 42 failed (0x80070005)\n" * 200, "spooler.log", "text/plain")
    return build_bundle(base, steps, [log], sysinfo=SYSINFO)


def queued(screens: list[bytes]) -> ReportBundle:
    """A report as the outbox's sender hands it to a connector: read back from its bundle file."""
    return ReportBundle.from_bytes(report(screens).to_bytes())


def curl_create(connector: RTConnector, token: str, bundle: ReportBundle, workdir: Path) -> tuple[float, float]:
    """The connector's create request made by curl: (curl's time_total, process wall time), seconds."""
    payload, files = connector.create_request(fit_bundle(bundle, connector.limits))
    folder = workdir / str(bundle.report.id)
    folder.mkdir()
    (folder / "payload.json").write_text(json.dumps(payload, ensure_ascii=False), encoding="utf-8")
    # No "Expect: 100-continue" round trip (curl adds one to large uploads; the connector does not).
    command = ["curl", "-s", "-o", str(folder / "answer.json"), "-w", "%{http_code} %{time_total}",
               "-H", "Expect:", "-H", f"Authorization: token {token}",
               "-F", f"JSON=<{folder / 'payload.json'};type=application/json"]
    for number, (name, media_type, data) in enumerate(files):
        path = folder / f"{number}-{name}"
        path.write_bytes(data)
        command += ["-F", f"Attachments=@{path};filename={name};type={media_type}"]
    command.append(f"{connector.url}/REST/2.0/ticket")
    started = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True, check=True)
    wall = time.perf_counter() - started
    status, total = result.stdout.split()
    if status != "201":
        raise RuntimeError(f"curl create answered {status}: {(folder / 'answer.json').read_text()}")
    return float(total), wall


def timed(action: Callable[[T], object], argument: T) -> float:
    started = time.perf_counter()
    action(argument)
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=12)
    parser.add_argument("--only", choices=("rt", "new", "all"), default="all",
                        help="rt: Request Tracker and the built-in server; new: the issue-20 connectors")
    parser.add_argument("--systems", default=",".join(NEW_SYSTEMS), help="which new connectors (comma-separated)")
    parser.add_argument("--processes", type=int, default=1,
                        help="new connectors: run the rounds in this many fresh processes, one after another, "
                             "and judge the median of their ratios")
    parser.add_argument("--ratios-to", type=Path, help=argparse.SUPPRESS)  # a child's ratios, for its parent
    args = parser.parse_args()
    systems = [s for s in args.systems.split(",") if s]
    status = 0
    if args.only in ("rt", "all"):
        status = bench_rt(args.rounds)
    if args.only in ("new", "all"):
        if args.processes > 1:
            status = max(status, bench_new_in_processes(args.rounds, systems, args.processes))
        else:
            status = max(status, bench_new(args.rounds, systems, ratios_to=args.ratios_to))
    return status


def bench_new_in_processes(rounds: int, systems: list[str], processes: int) -> int:
    """``bench_new`` in ``processes`` fresh interpreters, one at a time; the median of their ratios judged.

    One process's ratio depends on that process: on this 2-CPU machine the same code measured
    0.81-1.14x in six runs, in turn with the same rounds. With the client and the stand-in on one
    core the runs agree; on two they do not, even with each thread held to a core of its own: what
    handing every call from one core to the other costs differs from process to process and holds
    for the whole run.
    """
    runs: list[dict[str, float]] = []
    with tempfile.TemporaryDirectory(prefix="bench-connectors-runs-") as scratch:
        for number in range(processes):
            out = Path(scratch) / f"{number}.json"
            print(f"process {number + 1} of {processes}…", flush=True)
            subprocess.run([sys.executable, __file__, "--only", "new", "--rounds", str(rounds),
                            "--systems", ",".join(systems), "--ratios-to", str(out)],
                           check=False, stdout=subprocess.DEVNULL)
            if not out.exists():
                print(f"process {number + 1} failed; run it alone to see why")
                return 2
            runs.append(json.loads(out.read_text(encoding="utf-8")))
    print(f"\nconnector ÷ http.client in {processes} processes of {rounds} rounds each, and their median:")
    worst = 0.0
    for key in runs[0]:
        ratios = [run[key] for run in runs]
        median = statistics.median(ratios)
        system, _, setting = key.partition(" ")
        judged = setting != "20ms"
        if judged:
            worst = max(worst, median)
        met = "met" if median <= TARGET_RATIO else "missed"
        verdict = f" — target ≤ {TARGET_RATIO}x: {met}" if judged else ""
        print(f"{system:14} {setting:>7}  {' '.join(f'{r:.2f}' for r in ratios)}  median {median:.2f}x{verdict}")
    return 0 if worst <= TARGET_RATIO else 1


def bench_rt(rounds: int) -> int:
    reason = rt_available()
    if reason:
        print(f"cannot run the Request Tracker part: {reason}")
        return 2
    screens = [desktop(seed) for seed in range(3)]
    print(f"3 screenshots, lossless WebP: {', '.join(f'{len(s) / 1e6:.2f} MB' for s in screens)}")
    with tempfile.TemporaryDirectory(prefix="bench-connectors-") as scratch:
        work = Path(scratch)
        print("starting Request Tracker (first run installs Debian packages)…", flush=True)
        rt = start_rt(work / "rt", site_config="")  # RT's own defaults: $MaxAttachmentSize 10 MiB
        server = ServerProcess(work / "builtin" / "data")
        try:
            add_report_field(rt)
            server.start()
            builtin = BuiltinConnector(server.url, token=server.token("submitter"))
            def new_connector() -> RTConnector:
                return RTConnector(rt.url, queue=rt.queue, token=rt.token, report_id_field=rt.report_field)

            kept = new_connector()
            # Warm up every path once (RT's workers compile their code on first use).
            kept.submit(queued(screens))
            builtin.submit(queued(screens))
            curl_create(kept, rt.token, report(screens), work)
            rows: dict[str, list[float]] = {name: [] for name in (
                "curl time_total", "curl process", "RT connector", "RT connector, a new one per report",
                "replay check alone (1 TicketSQL query)", "built-in server")}
            for _round in range(rounds):
                total, wall = curl_create(kept, rt.token, report(screens), work)
                rows["curl time_total"].append(total)
                rows["curl process"].append(wall)
                # Reports are made before the clock starts: what is timed is the sending.
                first, second, third = queued(screens), queued(screens), queued(screens)
                rows["RT connector"].append(timed(kept.submit, first))
                rows["RT connector, a new one per report"].append(timed(new_connector().submit, second))
                rows["replay check alone (1 TicketSQL query)"].append(timed(kept.find_ticket, report(screens).report))
                rows["built-in server"].append(timed(builtin.submit, third))
            size = report(screens).total_bytes()
        finally:
            server.stop()
            rt.stop()
    base = statistics.median(rows["curl time_total"])
    print(f"\nticket creation, {size / 1e6:.2f} MB of files per report, {rounds} rounds, median (min):")
    print(f"{'':36} {'median':>9} {'min':>9}  vs curl time_total")
    for name, values in rows.items():
        median = statistics.median(values)
        print(f"{name:36} {median * 1000:7.0f} ms {min(values) * 1000:7.0f} ms  {median / base:5.2f}x")
    ratio = statistics.median(rows["RT connector"]) / base
    verdict = "meets" if ratio <= TARGET_RATIO else "misses"
    print(f"\nRT connector / curl: {ratio:.2f}x ({verdict} the target of ≤ {TARGET_RATIO}x)")
    return 0


# ---------------------------------------------------------------- the issue-20 connectors against raw HTTP
NEW_SYSTEMS = ("jira", "jira-project", "servicenow", "zendesk", "freshservice", "gitlab", "redmine")
SECRET = "bench-token-1"  # noqa: S105 - the stand-in servers' made-up token
EMAIL = "agent@example.org"
# A real service's answer time, for the second set of rows: each stand-in waits this long before each answer.
SERVICE_DELAY_SECONDS = 0.020
# The headers requests puts on every call (its session defaults); the raw peer sends them too.
LIBRARY_HEADERS = {"Accept-Encoding": str(requests.utils.default_headers()["Accept-Encoding"]),
                   "Connection": "keep-alive"}


class Raw:
    """The peer: ``http.client`` on one kept-alive connection; JSON answers decoded, nothing else.

    It sends the headers the connector sends (its User-Agent, Accept, the library's Accept-Encoding
    and Connection), so the server reads and answers the same bytes.
    """

    def __init__(self, url: str, headers: dict[str, str]) -> None:
        parts = urlsplit(url)
        self.connection = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=120)
        self.headers = headers

    def call(self, method: str, path: str, body: bytes | None = None, content_type: str | None = None,
             query: Mapping[str, object] | None = None, extra: Mapping[str, str] | None = None) -> Any:
        headers = {**self.headers, **(extra or {})}
        if content_type:
            headers["Content-Type"] = content_type
        if body is not None or method not in ("GET", "HEAD"):
            headers["Content-Length"] = str(len(body or b""))
        target = path + ("?" + urlencode(query) if query else "")
        # skip_accept_encoding: the header is in ``headers`` (http.client would add "identity" otherwise).
        self.connection.putrequest(method, target, skip_accept_encoding=True)
        for name, value in headers.items():
            self.connection.putheader(name, value)
        self.connection.endheaders(body)
        answer = self.connection.getresponse()
        data = answer.read()
        if not 200 <= answer.status <= 299:
            raise RuntimeError(f"raw {method} {path} answered {answer.status}: {data[:200]!r}")
        return json.loads(data) if data.strip() else None

    def close(self) -> None:
        self.connection.close()


class RawRequests(Raw):
    """The same calls through a bare ``requests.Session``: what the HTTP library itself costs per request."""

    def __init__(self, url: str, headers: dict[str, str]) -> None:
        self.url = url
        self.headers = headers
        self.session = requests.Session()

    def call(self, method: str, path: str, body: bytes | None = None, content_type: str | None = None,
             query: Mapping[str, object] | None = None, extra: Mapping[str, str] | None = None) -> Any:
        headers = {**self.headers, **(extra or {})}
        if content_type:
            headers["Content-Type"] = content_type
        target = self.url + path + ("?" + urlencode(query) if query else "")
        answer = self.session.request(method, target, data=body, headers=headers, timeout=120)
        if not 200 <= answer.status_code <= 299:
            raise RuntimeError(f"requests {method} {path} answered {answer.status_code}: {answer.text[:200]}")
        return answer.json() if answer.content.strip() else None

    def close(self) -> None:
        self.session.close()


def _files(bundle: ReportBundle) -> list[tuple[str, str, bytes]]:
    report = bundle.report
    files = [(attachment_name(r.path, report.id), r.media_type, bundle.files[r.path]) for r in report.files()]
    return [*files, (manifest_name(report.id), "application/json", report.canonical_json())]


def _multipart(parts: list[Part]) -> tuple[bytes, str]:
    form = MultipartForm(parts)
    return form.read(), form.content_type


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode("ascii")


def _json(data: object) -> bytes:
    return json.dumps(data).encode()


# Each raw_* flow makes the requests its connector makes, in the same order, with the same bodies
# (checked by ``same_requests`` before timing). Bodies that need no answer of the server are built
# before the clock starts (as curl's files are); JSON that carries ids the server answered is
# encoded inside it, as any client would.
def raw_jira(raw: Raw, bundle: ReportBundle) -> Callable[[], object]:
    report = bundle.report
    text = render(bundle).text
    no_check = {"X-Atlassian-Token": "no-check"}
    uploads = [_multipart([Part("file", d, filename=n, content_type=m)]) for n, m, d in _files(bundle)]
    request = {"serviceDeskId": "1", "requestTypeId": "10", "requestFieldValues": {
        "summary": report.subject(), "description": text, "labels": ["showdesk", f"showdesk-{report.id}"]}}

    def send() -> object:
        raw.call("GET", "/rest/api/3/search/jql", query={"jql": f'labels = "showdesk-{report.id}"',
                                                         "fields": "labels,description", "maxResults": 5})
        accounts = raw.call("GET", "/rest/api/3/user/search", query={"query": "ann@example.org"})
        key = raw.call("POST", "/rest/servicedeskapi/request",
                       _json({**request, "raiseOnBehalfOf": accounts[0]["accountId"]}), "application/json")["issueKey"]
        ids = [raw.call("POST", "/rest/servicedeskapi/servicedesk/1/attachTemporaryFile", body, kind, extra=no_check)[
            "temporaryAttachments"][0]["temporaryAttachmentId"] for body, kind in uploads]
        return raw.call("POST", f"/rest/servicedeskapi/request/{key}/attachment",
                        _json({"temporaryAttachmentIds": ids, "public": True}), "application/json")

    return send


def raw_jira_project(raw: Raw, bundle: ReportBundle) -> Callable[[], object]:
    report = bundle.report
    no_check = {"X-Atlassian-Token": "no-check"}
    uploads = [_multipart([Part("file", d, filename=n, content_type=m)]) for n, m, d in _files(bundle)]
    issue = _json({"fields": {"project": {"key": "IT"}, "issuetype": {"name": "Task"}, "summary": report.subject(),
                              "description": adf(render(bundle).text),
                              "labels": ["showdesk", f"showdesk-{report.id}"]}})

    def send() -> object:
        raw.call("GET", "/rest/api/3/search/jql", query={"jql": f'labels = "showdesk-{report.id}"',
                                                         "fields": "labels,description", "maxResults": 5})
        key = raw.call("POST", "/rest/api/3/issue", issue, "application/json")["key"]
        return [raw.call("POST", f"/rest/api/3/issue/{key}/attachments", body, kind, extra=no_check)
                for body, kind in uploads]

    return send


def raw_servicenow(raw: Raw, bundle: ReportBundle) -> Callable[[], object]:
    report = bundle.report
    incident = {"short_description": report.subject(), "description": render(bundle).text,
                "correlation_id": str(report.id), "correlation_display": "ShowDesk", "contact_type": "self-service",
                "urgency": "3"}
    files = _files(bundle)

    def send() -> object:
        raw.call("GET", "/api/now/table/incident", query={
            "sysparm_query": f"correlation_id={report.id}^ORDERBYsys_created_on",
            "sysparm_fields": "sys_id,number,state,correlation_id", "sysparm_limit": 1})
        users = raw.call("GET", "/api/now/table/sys_user", query={
            "sysparm_query": "email=ann@example.org", "sysparm_fields": "sys_id,email", "sysparm_limit": 1})
        record = raw.call("POST", "/api/now/table/incident",
                          _json({**incident, "caller_id": users["result"][0]["sys_id"]}), "application/json")["result"]
        for name, kind, data in files:
            raw.call("POST", "/api/now/attachment/file", data, kind,
                     query={"table_name": "incident", "table_sys_id": record["sys_id"], "file_name": name})
        return record

    return send


def raw_zendesk(raw: Raw, bundle: ReportBundle) -> Callable[[], object]:
    report = bundle.report
    html = render(bundle).html
    files = _files(bundle)

    def send() -> object:
        raw.call("GET", "/api/v2/tickets", query={"external_id": str(report.id)})
        token: str | None = None
        for name, kind, data in files:
            query = {"filename": name, **({"token": token} if token else {})}
            answer = raw.call("POST", "/api/v2/uploads", data, kind, query=query)
            token = token or answer["upload"]["token"]
        ticket = {"subject": report.subject(), "comment": {"html_body": html, "public": True, "uploads": [token]},
                  "external_id": str(report.id), "tags": ["showdesk"],
                  "requester": {"email": "ann@example.org", "name": "Ann Example"}}
        return raw.call("POST", "/api/v2/tickets", _json({"ticket": ticket}), "application/json")

    return send


def raw_freshservice(raw: Raw, bundle: ReportBundle) -> Callable[[], object]:
    report = bundle.report
    fields = [("email", "ann@example.org"), ("subject", report.subject()), ("description", render(bundle).html),
              ("status", "2"), ("priority", "1"), ("source", "2"), ("tags[]", "showdesk"),
              ("custom_fields[showdesk_report_id]", str(report.id))]
    body, kind = _multipart([Part(n, v.encode()) for n, v in fields]
                            + [Part("attachments[]", d, filename=n, content_type=m) for n, m, d in _files(bundle)])

    def send() -> object:
        raw.call("GET", "/api/v2/tickets/filter", query={"query": f"\"showdesk_report_id:'{report.id}'\""})
        return raw.call("POST", "/api/v2/tickets", body, kind)

    return send


def raw_gitlab(raw: Raw, bundle: ReportBundle) -> Callable[[], object]:
    report = bundle.report
    text = render(bundle).text
    files = _files(bundle)
    uploads = [(name, *_multipart([Part("file", d, filename=name, content_type=m)])) for name, m, d in files]
    project = "/api/v4/projects/it%2Fhelpdesk"
    steps = {attachment_name(step.image.path): step.caption for step in report.steps}

    def send() -> object:
        raw.call("GET", f"{project}/issues", query={"search": str(report.id), "in": "description", "state": "all",
                                                    "order_by": "created_at", "sort": "asc", "per_page": 20})
        links = {name: raw.call("POST", f"{project}/uploads", body, kind)["markdown"] for name, body, kind in uploads}
        images = [(caption, links[name]) for name, caption in steps.items()]
        others = [(name, link) for name, link in links.items() if name not in steps]
        issue = {"title": report.subject(), "description": markdown_description(text, images, others),
                 "labels": "showdesk", "confidential": True}
        return raw.call("POST", f"{project}/issues", _json(issue), "application/json")

    return send


def raw_redmine(raw: Raw, bundle: ReportBundle, project: str, field: int) -> Callable[[], object]:
    report = bundle.report
    text = render(bundle).text
    files = _files(bundle)

    def send() -> object:
        raw.call("GET", "/issues.json", query={"project_id": project, "status_id": "*", f"cf_{field}": str(report.id),
                                               "sort": "id", "limit": 10})
        uploads = [{"token": raw.call("POST", "/uploads.json", data, "application/octet-stream",
                                      query={"filename": name})["upload"]["token"],
                    "filename": name, "content_type": kind} for name, kind, data in files]
        issue = {"project_id": project, "subject": report.subject(), "description": text, "uploads": uploads,
                 "custom_fields": [{"id": field, "value": str(report.id)}]}
        return raw.call("POST", "/issues.json", _json({"issue": issue}), "application/json")

    return send


def _raw_redmine_for(raw: Raw, bundle: ReportBundle, *, project: str, field: int) -> Callable[[], object]:
    return raw_redmine(raw, bundle, project, field)


def _delayed(app: Callable[[Any], Any], seconds: float) -> Callable[[Any], Any]:
    """The stand-in ``app`` answering each request after ``seconds``, as a service on a network does."""
    def answer(request: Any) -> Any:
        time.sleep(seconds)
        return app(request)

    return answer


def _signature(received: list[Any]) -> list[tuple[str, str, tuple[str, ...], int, tuple[str, ...]]]:
    """What identifies a request apart from ids and random boundaries: method, path, query names, size, headers."""
    return [(r.method, re.sub(r"\d+", "N", r.path), tuple(sorted(r.query)), len(r.body),
             tuple(sorted(name.lower() for name in r.headers if name.lower() != "host"))) for r in received]


def same_requests(stand_in: Any, client: Connector, make_raw: Callable[[Raw, ReportBundle], Callable[[], object]],
                  raw: Raw, screens: list[bytes]) -> str:
    """Both peers' requests for one report each, compared; "" when the same, else the first difference."""
    stand_in.received.clear()
    client.submit(queued(screens))
    ours = _signature(stand_in.received)
    stand_in.received.clear()
    make_raw(raw, report(screens))()
    theirs = _signature(stand_in.received)
    stand_in.received.clear()
    if len(ours) != len(theirs):
        return f"{len(ours)} requests from the connector, {len(theirs)} from the raw client"
    for number, (a, b) in enumerate(zip(ours, theirs, strict=True), 1):
        if a != b:
            return f"request {number}: connector {a}, raw {b}"
    return ""


def bench_new(rounds: int, systems: list[str], *, ratios_to: Path | None = None) -> int:
    """Each new connector against the raw client, in turns, on the same server; prints medians and ratios."""
    from tests.connectors import contract
    from tests.fixtures.redmine import redmine_available, start_redmine

    screens = [desktop(seed) for seed in range(3)]
    results: dict[tuple[str, str], Row] = {}
    with tempfile.TemporaryDirectory(prefix="bench-connectors-new-") as scratch:
        for system in systems:
            settings = [("live", 0.0)] if system == "redmine" else [("fast", 0.0), ("20ms", SERVICE_DELAY_SECONDS)]
            for setting, delay in settings:
                with contextlib.ExitStack() as stack:
                    stand_in: Any = None
                    if system == "redmine":
                        reason = redmine_available()
                        if reason:
                            print(f"redmine: skipped ({reason})")
                            continue
                        print("starting Redmine…", flush=True)
                        instance = start_redmine(Path(scratch) / "redmine")
                        stack.callback(instance.stop)
                        url = instance.url
                        headers = {"X-Redmine-API-Key": instance.key, "Accept": "application/json",
                                   "User-Agent": user_agent("redmine"), **LIBRARY_HEADERS}
                        client: Connector = RedmineConnector(url, project=instance.project, token=instance.key,
                                                             report_id_field=instance.report_field)
                        make_raw: Callable[[Raw, ReportBundle], Callable[[], object]] = functools.partial(
                            _raw_redmine_for, project=instance.project, field=instance.report_field)
                    else:
                        fake, client_for, make_raw, headers = _contract_peer(system, contract)
                        app = _delayed(fake, delay) if delay else fake
                        stand_in = stack.enter_context(contract.ContractServer(app))
                        url = stand_in.url
                        client = client_for(url)
                    stack.callback(client.close)
                    raw = Raw(url, headers)
                    stack.callback(raw.close)
                    library = RawRequests(url, headers)
                    stack.callback(library.close)
                    client.submit(queued(screens))  # warm up every path
                    make_raw(raw, report(screens))()
                    make_raw(library, report(screens))()
                    if stand_in is not None:
                        difference = same_requests(stand_in, client, make_raw, raw, screens)
                        if difference:
                            print(f"{system}: the raw client does not send what the connector sends: {difference}")
                            return 2
                    calls = 0
                    timings: dict[str, list[float]] = {"connector": [], "raw": [], "requests": []}
                    # The process's CPU (the client and the stand-in's threads): on one core it is the wall
                    # time; on two it shows what a peer costs apart from waiting for the other core.
                    cpu: dict[str, list[float]] = {"connector": [], "raw": []}
                    for number in range(rounds):
                        senders = {"raw": make_raw(raw, report(screens)),  # bodies built before the clock starts
                                   "requests": make_raw(library, report(screens))}
                        bundle = queued(screens)
                        # In turns, the order rotating: a server that slows as its database grows must not
                        # favour the one that always goes first.
                        peers = ["raw", "connector", "requests"]
                        for peer in peers[number % 3:] + peers[: number % 3]:
                            if stand_in is not None:
                                stand_in.received.clear()  # the stand-in keeps every request: it must not swell
                            started, cpu_started = time.perf_counter(), time.process_time()
                            senders[peer]() if peer in senders else client.submit(bundle)
                            timings[peer].append(time.perf_counter() - started)
                            if peer in cpu:
                                cpu[peer].append(time.process_time() - cpu_started)
                            if stand_in is not None and peer == "connector":
                                calls = len(stand_in.received)
                    results[(system, setting)] = Row(timings["connector"], timings["raw"], timings["requests"], calls,
                                                     cpu["connector"], cpu["raw"])
    size = report(screens).total_bytes()
    print(f"\nnew connectors, {size / 1e6:.2f} MB of files per report, {rounds} rounds; stand-ins answer at once "
          f"(fast) or after {SERVICE_DELAY_SECONDS * 1000:.0f} ms per request (20ms); Redmine is live")
    print("times are medians; a ratio is the median of the rounds' own ratios (each round times the peers back to "
          "back, so a busy moment of the machine falls on all of them), min÷min in brackets")
    print(f"{'':14} {'answers':>7} {'calls':>5} {'connector':>10} {'http.client':>12} {'requests':>10}  "
          f"{'÷ http.client':>20}  {'÷ requests':>10}")
    for (system, setting), row in results.items():
        print(f"{system:14} {setting:>7} {row.calls or '':>5} {statistics.median(row.connector) * 1000:7.1f} ms "
              f"{statistics.median(row.raw) * 1000:9.1f} ms {statistics.median(row.library) * 1000:7.1f} ms  "
              f"{row.ratio(row.raw):10.2f}x ({min(row.connector) / min(row.raw):.2f}x)  {row.ratio(row.library):9.2f}x")
    print("\nthe process's CPU time a report (the client, and the stand-in's threads: Redmine runs apart), medians; "
          "on one core (taskset -c 0) it is the wall time")
    for (system, setting), row in results.items():
        extra = statistics.median(ours - theirs for ours, theirs in zip(row.connector_cpu, row.raw_cpu, strict=True))
        print(f"{system:14} {setting:>7}  connector {statistics.median(row.connector_cpu) * 1000:5.2f} ms  "
              f"http.client {statistics.median(row.raw_cpu) * 1000:5.2f} ms  difference {extra * 1000:+.2f} ms")
    print(f"\ntarget: the connector ≤ {TARGET_RATIO}x the raw client (http.client, one kept-alive connection, the same "
          "requests) against the stand-in that answers at once (Redmine: live)")
    worst = 0.0
    for (system, setting), row in results.items():
        if setting == "20ms":
            continue
        ratio = row.ratio(row.raw)
        worst = max(worst, ratio)
        verdict = "met" if ratio <= TARGET_RATIO else "missed"
        slow = results.get((system, "20ms"))
        also = f"; {slow.ratio(slow.raw):.2f}x with {SERVICE_DELAY_SECONDS * 1000:.0f} ms answers" if slow else ""
        print(f"{system}: {ratio:.2f}x http.client ({setting}) — target ≤ {TARGET_RATIO}x: {verdict}{also}")
    if ratios_to is not None:
        ratios = {f"{system} {setting}": row.ratio(row.raw) for (system, setting), row in results.items()}
        ratios_to.write_text(json.dumps(ratios), encoding="utf-8")
    return 0 if worst <= TARGET_RATIO else 1


@dataclass
class Row:
    """One system's timings, seconds per report, in round order."""

    connector: list[float]
    raw: list[float]
    library: list[float]
    calls: int
    connector_cpu: list[float]  # the process's CPU time per report, seconds
    raw_cpu: list[float]

    def ratio(self, peer: list[float]) -> float:
        """The median of the rounds' ratios connector ÷ ``peer``."""
        return statistics.median(ours / theirs for ours, theirs in zip(self.connector, peer, strict=True))


def _contract_peer(system: str, contract: Any) -> tuple[Any, Callable[[str], Connector],
                                                        Callable[[Raw, ReportBundle], Callable[[], object]],
                                                        dict[str, str]]:
    """The stand-in server, a connector for it, the raw peer's flow and its headers, for one system."""
    def common(kind: str, auth: dict[str, str]) -> dict[str, str]:
        return {**auth, "Accept": "application/json", "User-Agent": user_agent(kind), **LIBRARY_HEADERS}

    if system == "jira":
        return (contract.FakeJira(SECRET, email=EMAIL),
                lambda url: JiraConnector(url, token=SECRET, email=EMAIL, service_desk_id="1", request_type_id="10"),
                raw_jira, common("jira", {"Authorization": _basic(EMAIL, SECRET)}))
    if system == "jira-project":
        return (contract.FakeJira(SECRET, email=EMAIL),
                lambda url: JiraConnector(url, token=SECRET, email=EMAIL, project="IT"),
                raw_jira_project, common("jira", {"Authorization": _basic(EMAIL, SECRET)}))
    if system == "servicenow":
        return (contract.FakeServiceNow("showdesk", SECRET),
                lambda url: ServiceNowConnector(url, token=SECRET, user="showdesk"),
                raw_servicenow, common("servicenow", {"Authorization": _basic("showdesk", SECRET)}))
    if system == "zendesk":
        return (contract.FakeZendesk(EMAIL, SECRET), lambda url: ZendeskConnector(url, token=SECRET, email=EMAIL),
                raw_zendesk, common("zendesk", {"Authorization": _basic(f"{EMAIL}/token", SECRET)}))
    if system == "freshservice":
        return (contract.FakeFreshservice(SECRET, custom_fields=("showdesk_report_id",)),
                lambda url: FreshserviceConnector(url, token=SECRET, report_id_field="showdesk_report_id"),
                raw_freshservice, common("freshservice", {"Authorization": _basic(SECRET, "X")}))
    if system == "gitlab":
        return (contract.FakeGitLab(SECRET), lambda url: GitLabConnector(url, token=SECRET, project="it/helpdesk"),
                raw_gitlab, common("gitlab", {"PRIVATE-TOKEN": SECRET}))
    raise SystemExit(f"unknown system {system!r}; choose from {', '.join(NEW_SYSTEMS)}")


if __name__ == "__main__":
    sys.exit(main())
