"""What the mails to the person say, in English and German (the ticket's language).

Short and plain, like the requester's page: what happened, the link, how to stop these mails.
Subjects hold only the ticket number and fixed words, never text someone typed.
"""

from __future__ import annotations

from typing import Final

DEFAULT_LANGUAGE: Final = "en"
MAIL_KINDS: Final = ("received", "reply", "resolved", "next")

TEXTS: Final[dict[str, dict[str, str]]] = {
    "en": {
        "subject.received": "{number}: we have received your request",
        "subject.reply": "{number}: the help desk has answered",
        "subject.resolved": "{number}: your request is resolved",
        "subject.next": "{number}: it is your turn",
        "lead.received": "Thank you: we have received your request {number}. "
        "Follow it, answer questions and add photos on its page:",
        "lead.reply": "The help desk has answered your request {number}:",
        "lead.resolved": "Your request {number} is resolved. Is it working again? "
        "Tell us, and rate our help, on its page:",
        "lead.next": "It is your turn: please go to the help desk now (request {number}).",
        "link.received": "Open your request",
        "link.reply": "Read and answer on your request's page",
        "link.resolved": "Tell us and rate our help",
        "link.next": "Your request's page",
        "greeting": "Hello {name},",
        "greeting_anonymous": "Hello,",
        "private": "The link is your personal access to this request: please do not pass it on.",
        "stop": "No more e-mails about this request",
        "stop_text": "To stop e-mails about this request, open:",
        "sign": "Your help desk",
    },
    "de": {
        "subject.received": "{number}: Wir haben Ihre Anfrage erhalten",
        "subject.reply": "{number}: Antwort vom Helpdesk",
        "subject.resolved": "{number}: Ihre Anfrage ist gelöst",
        "subject.next": "{number}: Sie sind an der Reihe",
        "lead.received": "Danke: Wir haben Ihre Anfrage {number} erhalten. "
        "Auf ihrer Seite sehen Sie den Stand, beantworten Fragen und fügen Fotos hinzu:",
        "lead.reply": "Der Helpdesk hat auf Ihre Anfrage {number} geantwortet:",
        "lead.resolved": "Ihre Anfrage {number} ist gelöst. Funktioniert es wieder? "
        "Sagen Sie es uns und bewerten Sie unsere Hilfe auf ihrer Seite:",
        "lead.next": "Sie sind an der Reihe: Bitte kommen Sie jetzt zum Helpdesk (Anfrage {number}).",
        "link.received": "Ihre Anfrage öffnen",
        "link.reply": "Auf der Seite Ihrer Anfrage lesen und antworten",
        "link.resolved": "Rückmeldung geben und bewerten",
        "link.next": "Die Seite Ihrer Anfrage",
        "greeting": "Hallo {name},",
        "greeting_anonymous": "Hallo,",
        "private": "Der Link ist Ihr persönlicher Zugang zu dieser Anfrage: Bitte geben Sie ihn nicht weiter.",
        "stop": "Keine E-Mails mehr zu dieser Anfrage",
        "stop_text": "Um keine E-Mails mehr zu dieser Anfrage zu erhalten, öffnen Sie:",
        "sign": "Ihr Helpdesk",
    },
}


def mail_texts(language: str | None) -> dict[str, str]:
    return TEXTS.get(language or DEFAULT_LANGUAGE, TEXTS[DEFAULT_LANGUAGE])
