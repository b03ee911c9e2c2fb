"""Enrolment codes and links: what `showdesk enrolment` prints is what the agent accepts."""

from __future__ import annotations

import json

import pytest

from agent.enrolment import EnrolmentError, make_enrolment_code, make_enrolment_link, parse_enrolment
from tests.core.test_cli import showdesk


def test_the_command_prints_a_code_and_a_link_the_agent_accepts() -> None:
    result = showdesk("enrolment", "https://help.example.org/", "--token-stdin", "--json", stdin="sdk_Zq9-token\n")
    assert result.returncode == 0, result.stderr
    made = json.loads(result.stdout)
    assert made["url"] == "https://help.example.org"
    for text in (made["code"], made["link"]):
        enrolled = parse_enrolment(text)
        assert (enrolled.url, enrolled.token) == ("https://help.example.org", "sdk_Zq9-token")


def test_the_plain_output_warns_that_it_carries_the_token() -> None:
    result = showdesk("enrolment", "https://help.example.org", "--token-stdin", stdin="sdk_abc\n")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0].startswith("code: SDE1-")
    assert "password" in result.stderr


@pytest.mark.parametrize(
    ("url", "stdin", "said"),
    [
        ("ftp://help.example.org", "sdk_abc\n", "http:// or https://"),
        ("https://help.example.org", "\n", "empty token"),
    ],
)
def test_a_bad_address_or_an_empty_token_makes_nothing(url: str, stdin: str, said: str) -> None:
    result = showdesk("enrolment", url, "--token-stdin", stdin=stdin)
    assert result.returncode == 2
    assert said in result.stderr and result.stdout == ""


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("", "paste the enrolment link or code"),
        ("SDE1-!!!not-base64", "damaged"),
        (make_enrolment_code("https://help.example.org", "")[:-2], "damaged"),
        ("https://help.example.org", "not an enrolment link"),
        ("showdesk://enrol?url=https://help.example.org", "lacks"),
        (make_enrolment_link("ftp://help.example.org", "t"), "http:// or https://"),
    ],
)
def test_a_damaged_or_wrong_enrolment_is_refused_with_the_reason(text: str, said: str) -> None:
    with pytest.raises(EnrolmentError, match=said):
        parse_enrolment(text)


def test_whitespace_from_mail_clients_is_ignored_and_the_token_is_not_in_the_repr() -> None:
    code = make_enrolment_code("https://help.example.org", "sdk_secret")
    enrolled = parse_enrolment(f"  {code[:10]}\n  {code[10:]} ")
    assert enrolled.token == "sdk_secret"
    assert "sdk_secret" not in repr(enrolled)
