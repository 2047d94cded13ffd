"""Message variables (DEP-8), the action messages of a department (DEP-6), and the text
any message may hold (`clean_text`).

Every configurable message (action messages, inactivity messages, the survey's
timeout message, and later templates, greetings...) may hold variables written as
``{{nome_cliente}}``. Unknown variables are refused when saving (`validate_template`),
never sent raw; `render` fills them in one pass, as plain text (messages go to WhatsApp,
Telegram...: no HTML escaping here; whoever shows a message in a page escapes it).
"""
from __future__ import annotations

import re
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from ..lib import clock
from . import RuleError

MAX_TEXT = 4096  # characters in one message, either way

# name -> what it becomes (shown next to every message field)
VARIABLES: dict[str, str] = {
    "nome_cliente": _l("Nome do cliente"),
    "protocolo": _l("Número de protocolo do atendimento"),
    "nome_atendente": _l("Nome do atendente"),
    "departamento": _l("Nome do departamento"),
    "empresa": _l("Nome da empresa"),
    "data": _l("Data atual (dd/mm/aaaa)"),
    "hora": _l("Hora atual (hh:mm)"),
}


def clean_text(text) -> str:
    """The text of a message, in or out, stripped; RuleError when too long."""
    # NUL cannot be stored by PostgreSQL and no channel means it
    text = (text or "").replace("\x00", "").strip() if isinstance(text, str) else ""
    if len(text) > MAX_TEXT:
        raise RuleError(_("A mensagem pode ter no máximo %(n)s caracteres.", n=MAX_TEXT))
    return text


# {{ name }} with optional spaces inside the braces; anything but braces as the name
_VARIABLE = re.compile(r"\{\{\s*([^{}]*?)\s*\}\}")
# what is left of a brace pair after the well-formed variables are taken out
_STRAY = re.compile(r"\{\{[^{}]*\}?|\{?[^{}\s]*\}\}")

# DEP-6: sent when the checkbox is on and the department has no text of its own
ACTION_KINDS = ("start", "transfer", "close")
DEFAULT_ACTION_TEXTS: dict[str, str] = {
    "start": "Atendente {{nome_atendente}} iniciou o atendimento.",
    "transfer": "Seu atendimento foi transferido para {{departamento}}.",
    "close": "Atendimento finalizado. Protocolo {{protocolo}}.",
}


def variable_list() -> str:
    """"{{nome_cliente}}, {{protocolo}}, ..." for messages and help texts."""
    return ", ".join("{{%s}}" % name for name in VARIABLES)


def variables_help() -> str:
    """One line per variable with its description (form help text)."""
    return "; ".join("{{%s}}: %s" % (name, label) for name, label in VARIABLES.items())


def validate_template(text: str | None, extra=()) -> list[str]:
    """The unknown variables of a message, as written ("{{nome}}"), in order, no repeats.
    `extra` names more variables allowed here (a chatbot flow's own: backoffice.automation).

    Broken braces ("{{protocolo}", "{{ }}") count as unknown too: they would be sent raw.
    """
    unknown: list[str] = []
    if not text:
        return unknown

    def note(fragment: str) -> None:
        if fragment not in unknown:
            unknown.append(fragment)

    for match in _VARIABLE.finditer(text):
        if match.group(1) not in VARIABLES and match.group(1) not in extra:
            note(match.group(0))
    rest = _VARIABLE.sub(" ", text)
    for match in _STRAY.finditer(rest):
        note(match.group(0).strip())
    return unknown


def unknown_variables_message(unknown: list[str]) -> str:
    return _("Variável desconhecida: %(unknown)s. Variáveis válidas: %(valid)s.",
             unknown=", ".join(unknown), valid=variable_list())


def render(text: str | None, context: dict | None, extra=()) -> str:
    """The message with its variables filled in from `context` (keys are the variable
    names; `extra` names more that are allowed, as in validate_template). Missing values
    and unknown variables become empty text; values are inserted once, so a value that
    itself looks like a variable is not expanded again."""
    if not text:
        return ""
    context = context or {}

    def value(match: re.Match) -> str:
        name = match.group(1)
        if name not in VARIABLES and name not in extra:
            return ""
        found = context.get(name)
        return "" if found is None else str(found)

    return _VARIABLE.sub(value, text)


def build_context(*, customer=None, protocol=None, agent=None, department=None, company=None,
                  now: datetime | None = None, tz: str | None = None) -> dict[str, str]:
    """The variables' values from the objects at hand (any may be None).

    Date and time are those of the company's time zone (or `tz`), now unless given.
    """
    zone_name = tz or getattr(company, "timezone", None) or "America/Sao_Paulo"
    try:
        zone = ZoneInfo(zone_name)
    except (KeyError, ValueError):
        zone = ZoneInfo("America/Sao_Paulo")
    moment = now or clock.aware_now()
    if moment.tzinfo is None:  # stored timestamps are naive UTC
        moment = moment.replace(tzinfo=timezone.utc)
    local = moment.astimezone(zone)

    def name_of(obj):
        if obj is None:
            return ""
        return str(getattr(obj, "name", obj) or "")

    return {
        "nome_cliente": name_of(customer),
        "protocolo": "" if protocol is None else str(protocol),
        "nome_atendente": name_of(agent),
        "departamento": name_of(department),
        "empresa": name_of(company),
        "data": local.strftime("%d/%m/%Y"),
        "hora": local.strftime("%H:%M"),
    }


def action_message(department, kind: str, context: dict | None) -> str | None:
    """DEP-6: the message to send on `kind` ("start", "transfer", "close"), or None
    when the department's checkbox for it is off. An empty text means the default."""
    if kind not in ACTION_KINDS:
        raise ValueError(f"unknown action message kind: {kind!r}")
    if not getattr(department, f"on_{kind}_enabled", False):
        return None
    text = (getattr(department, f"on_{kind}_text", None) or "").strip()
    return render(text or DEFAULT_ACTION_TEXTS[kind], context)
