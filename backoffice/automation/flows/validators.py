"""The answers a chatbot question accepts (AUT-2), checked and normalised.

`validate(kind, text)` returns the answer as it is stored (on the contact and in the
flow's variable) or raises RuleError with the reason in Portuguese; the kinds are
spec.VALIDATIONS. The rules are the app's own: CPF/CNPJ through lib.documents (python-stdnum,
repeated digits refused), phones through lib.phones (E.164), e-mails as the Contatos
screen checks them.
"""
from __future__ import annotations

import re
from datetime import date
from decimal import Decimal, InvalidOperation

from flask_babel import gettext as _

from ...lib.documents import normalise_document
from ...lib.errors import RuleError
from ...lib.phones import normalise_phone
from ...services.contacts import normalise_email

MAX_ANSWER = 255  # characters kept of a free-text answer

_THOUSANDS = re.compile(r"^[+-]?\d{1,3}(\.\d{3})+$")          # "1.234" / "12.345.678"
_NUMBER = re.compile(r"^[+-]?(\d+|\d{1,3}(\.\d{3})+)(,\d+)?$")  # pt-BR: "1.234,5"
_DOTTED = re.compile(r"^[+-]?(\d+|\d{1,3}(,\d{3})+)(\.\d+)?$")  # "1,234.5" / "3.14"
_DATE = re.compile(r"^(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})$")


def _text(text: str) -> str:
    if not text:
        raise RuleError(_("Escreva uma resposta."))
    return text[:MAX_ANSWER]


def _number(text: str) -> str:
    """"1.234,5" (pt-BR), "1234.5", "1,234.5" and "12" are numbers; stored as "1234.5"."""
    compact = text.replace(" ", "")
    if _THOUSANDS.match(compact) or _NUMBER.match(compact):
        plain = compact.replace(".", "").replace(",", ".")
    elif _DOTTED.match(compact):
        plain = compact.replace(",", "")
    else:
        raise RuleError(_("Responda com um número, por exemplo 1.234,50."))
    try:
        value = Decimal(plain)
    except InvalidOperation:
        raise RuleError(_("Responda com um número, por exemplo 1.234,50.")) from None
    if value == value.to_integral_value():
        return str(int(value))
    return format(value.normalize(), "f")


def _date(text: str) -> str:
    """dd/mm/aaaa (also with "-" or "."), a real day; stored as dd/mm/aaaa."""
    match = _DATE.match(text.replace(" ", ""))
    try:
        if match is None:
            raise ValueError
        day = date(int(match.group(3)), int(match.group(2)), int(match.group(1)))
    except ValueError:
        raise RuleError(_("Responda com uma data no formato dd/mm/aaaa.")) from None
    return day.strftime("%d/%m/%Y")


VALIDATORS = {
    "text": _text,
    "number": _number,
    "email": normalise_email,
    "cpf_cnpj": lambda text: normalise_document(text)[0],
    "phone": normalise_phone,
    "date": _date,
}


def validate(kind: str | None, text: str | None) -> str:
    """The answer normalised, or RuleError (an unknown kind checks for text only)."""
    text = _text((text or "").strip())  # every kind needs an answer first
    return VALIDATORS.get(kind or "text", _text)(text)
