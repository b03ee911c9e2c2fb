"""`showdesk capture -o FILE` handed to the running agent before the core's command line loads.

The agent grabs and encodes in about two thirds of scrot's whole process; the command line is
only the messenger. Loading the core's command line (argparse, the capture parser, the request
type) before asking would cost about a fifth of the command's time, and the agent would wait for
it. So the common forms of the command are read here with nothing but ``os``, ``sys`` and the
socket client loaded, and the request goes out at once.

This reader recognises a strict subset of what ``agent.cli``'s parser accepts, and builds the
same request ``agent.cli.CaptureRequest.from_args(...).to_wire()`` builds (a test holds the two
together). Anything else (another option, an abbreviation, a value that looks like an option,
``--delay``, ``--clip``, ``--submit``, ``--no-agent``, a mistake) is left to the full parser:
:func:`hand_over` then returns None and nothing was sent, so the answer is the same either way,
only slower.
"""

from __future__ import annotations

import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any

    from agent.sysinfo_process import SysinfoProcess

# agent.cli's capture options taking one value, as the request names them ("output" is not sent).
_VALUE_OPTIONS = {
    "-o": "output",
    "--output": "output",
    "--monitor": "monitor",
    "--region": "region",
    "--format": "format",
    "--caption": "caption",
    "--description": "description",
    "--category": "category",
    "--name": "name",
    "--email": "email",
    "--backend": "backend",
    "--wait": "wait",
}
_REPEATED_OPTIONS = {"--exclude": "exclude"}
_FLAGS = {"--no-sysinfo": "no_sysinfo", "--json": "json"}
# agent.cli.capture_environment's choice (a test compares them): what a capture depends on.
CAPTURE_ENVIRONMENT_PREFIXES = ("SHOWDESK_",)
CAPTURE_ENVIRONMENT_NAMES = ("HOME", "XDG_CONFIG_HOME", "XDG_CONFIG_DIRS", "WAYLAND_DISPLAY")


class Handoff:
    """A recognised `showdesk capture -o FILE`: the request for the agent, how to report it, and
    the options as the full parser's namespace holds them (``agent.cli.capture_namespace``: the
    command line capturing itself need not parse them again)."""

    def __init__(self, wire: dict[str, Any], output: str, as_json: bool, options: dict[str, Any]) -> None:
        self.wire = wire
        self.output = output
        self.as_json = as_json
        self.options = options


def read_capture_args(args: list[str], environ: Mapping[str, str]) -> Handoff | None:
    """``args`` (what follows ``capture``) as a hand-off, or None when the full parser must read them."""
    values: dict[str, str] = {}
    repeated: dict[str, list[str]] = {"exclude": []}
    flags = {"no_sysinfo": False, "json": False}
    position = 0
    while position < len(args):
        token = args[position]
        position += 1
        name, attached = token, None
        if token.startswith("--") and "=" in token:
            name, attached = token.split("=", 1)
        if name in _FLAGS and attached is None:
            flags[_FLAGS[name]] = True
            continue
        key = _VALUE_OPTIONS.get(name) or _REPEATED_OPTIONS.get(name)
        if key is None:
            return None  # an option this reader leaves to argparse (or a mistake argparse reports)
        if attached is None:
            if position >= len(args):
                return None
            attached = args[position]
            position += 1
            if attached.startswith("-"):
                return None  # argparse's own rules for values that look like options
        if name in _REPEATED_OPTIONS:
            repeated[key].append(attached)
        else:
            values[key] = attached  # argparse keeps the last of a repeated option too
    output = values.get("output")
    if not output or ("monitor" in values and "region" in values):
        return None
    try:
        monitor = int(values["monitor"]) if "monitor" in values else None
        region = _region(values["region"]) if "region" in values else None
        if "wait" in values:
            float(values["wait"])
    except ValueError:
        return None  # argparse says what is wrong with it
    if region is None and "region" in values:
        return None
    wire: dict[str, Any] = {
        "monitor": monitor,
        "region": list(region) if region else None,
        "format": values.get("format"),
        "caption": values.get("caption", ""),
        "description": values.get("description") or "",
        "category": values.get("category") or "",
        "name": values.get("name"),
        "email": values.get("email"),
        "sysinfo": not flags["no_sysinfo"],
        "exclude": repeated["exclude"],
        "backend": values.get("backend"),
        "environment": capture_environment(environ),
    }
    options: dict[str, Any] = {
        "output": output,
        "monitor": monitor,
        "region": region,
        "format": values.get("format"),
        "caption": values.get("caption", ""),
        "description": values.get("description"),
        "category": values.get("category"),
        "name": values.get("name"),
        "email": values.get("email"),
        "backend": values.get("backend"),
        "exclude": repeated["exclude"],
        "no_sysinfo": flags["no_sysinfo"],
        "json": flags["json"],
    }
    if "wait" in values:
        options["wait"] = float(values["wait"])
    return Handoff(wire, output, flags["json"], options)


def _region(text: str) -> tuple[int, int, int, int] | None:
    """agent.cli._parse_region's reading; None where it refuses (argparse then says why)."""
    x, y, w, h = (int(part) for part in text.split(","))  # ValueError as there
    return (x, y, w, h) if w > 0 and h > 0 else None


def capture_environment(environ: Mapping[str, str]) -> dict[str, str]:
    """agent.cli.capture_environment(environ, environ.get("DISPLAY"))."""
    chosen = {
        name: value
        for name, value in environ.items()
        if name in CAPTURE_ENVIRONMENT_NAMES or name.startswith(CAPTURE_ENVIRONMENT_PREFIXES)
    }
    chosen["DISPLAY"] = environ.get("DISPLAY") or ""
    return dict(sorted(chosen.items()))


def hand_over(args: list[str]) -> int | None:
    """Run `showdesk capture ARGS` through the running agent; its exit code, or None when it was
    not handed over (not a form read here, no agent, or the agent declined): the full command
    line then runs, and asks no agent again when ``asked_agent()`` says it was asked."""
    global _asked, _recognised
    handoff = read_capture_args(args, os.environ)
    if handoff is None:
        return None
    _recognised = handoff.options
    from agent.laptop.instance_client import OUTPUT_ARG, request_capture, usable_output_path

    _asked = True
    # The agent writes the file itself where it can (the bundle's bytes then never cross the
    # socket); a directory that does not exist yet is made by this process, as without an agent.
    target = usable_output_path(os.path.abspath(handoff.output))  # noqa: PTH100 - pathlib stays off this path
    wire = handoff.wire if target is None else {**handoff.wire, OUTPUT_ARG: target}
    answer = request_capture(wire, while_waiting=None if target else prepare_write)
    if answer is None:
        if not handoff.options["no_sysinfo"]:
            _start_sysinfo_helper(handoff.options)
        return None
    header, data = answer
    if header.get("status") != "written":
        from pathlib import Path

        from agent.fsutil import atomic_write_bytes

        atomic_write_bytes(Path(handoff.output), data)
    report_id, steps = str(header.get("report_id", "")), int(header.get("steps", 0))
    if handoff.as_json:
        import json

        # agent.cli._print_json's layout
        print(
            json.dumps(
                {"report_id": report_id, "file": handoff.output, "steps": steps, "captured_by": "agent"},
                indent=2,
                sort_keys=True,
                default=str,
            )
        )
    else:
        print(f"saved {steps} shot(s) to {handoff.output}")
    return 0


def _start_sysinfo_helper(options: Mapping[str, Any]) -> None:
    """Start collecting the capture's system information in a helper process now, before the core's
    command line and configuration load (agent.sysinfo_process): it then runs beside all of this
    process's work instead of beginning with the capture. Where no helper can start, the core
    collects as before."""
    global _sysinfo_helper
    from agent.sysinfo_process import SysinfoProcess, SysinfoProcessError

    try:
        _sysinfo_helper = SysinfoProcess.for_configuration(options.get("backend"), options.get("exclude") or ())
    except SysinfoProcessError:
        _sysinfo_helper = None


_asked = False
_recognised: dict[str, Any] | None = None
_sysinfo_helper: SysinfoProcess | None = None


def asked_agent() -> bool:
    """True once :func:`hand_over` asked the agent (whatever it answered)."""
    return _asked


def recognised_options() -> dict[str, Any] | None:
    """The options :func:`hand_over` read (for ``agent.cli.main``'s ``capture_options``), or None."""
    return _recognised


def sysinfo_helper() -> SysinfoProcess | None:
    """The helper :func:`hand_over` started for the capture made here, handed over once (the
    caller owns it then: agent.cli.main's ``sysinfo_helper``)."""
    global _sysinfo_helper
    helper, _sysinfo_helper = _sysinfo_helper, None
    return helper


def prepare_write() -> None:
    """What the bundle is written with, imported while the agent captures."""
    import agent.fsutil  # noqa: F401 - imported for its cost, not its names
