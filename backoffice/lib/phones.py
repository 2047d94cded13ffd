"""Phones as people type them, to E.164 (python `phonenumbers`, region BR).

Brazilian mobiles gained a ninth digit (2012-2016); lists still carry the old 8-digit
form ("(11) 8765-4321"). A national number of 10 digits whose subscriber part starts
with 6-9 is such a mobile: the 9 is inserted. Landlines (2-5) keep 8 digits.
"""
from __future__ import annotations

import re

import phonenumbers
from flask_babel import lazy_gettext as _l

from .errors import RuleError

E164 = phonenumbers.PhoneNumberFormat.E164


def _parse(value: str):
    text = value.strip()
    digits = "".join(filter(str.isdigit, text))
    # "5511987654321" (country code without the +), as CRMs and WhatsApp export it
    if not text.startswith("+") and digits.startswith("55") and len(digits) in (12, 13):
        text = "+" + digits
    try:
        return phonenumbers.parse(text, "BR")
    except phonenumbers.NumberParseException:
        return None


_BR = phonenumbers.PhoneMetadata.metadata_for_region("BR")
# Brazil's own landline and mobile ranges, from phonenumbers' metadata (not copied by hand)
_BR_NUMBER = re.compile(f"(?:{_BR.fixed_line.national_number_pattern})"
                        f"|(?:{_BR.mobile.national_number_pattern})")
_PLAIN = re.compile(r"\+?[\d\s().-]+")


def _fast(text: str) -> str | None:
    """The common shapes of a Brazilian phone ("(11) 98765-4321", "11987654321", "+55 11
    9 8765-4321", "5511987654321") without a full parse: an import spends most of its
    time in phonenumbers otherwise. Same result as the full path, or None to take it."""
    if not _PLAIN.fullmatch(text):
        return None
    digits = "".join(filter(str.isdigit, text))
    if digits.startswith("55") and len(digits) in (12, 13):
        national = digits[2:]
    elif text.startswith("+") or digits.startswith("0") or len(digits) not in (10, 11):
        return None
    else:
        national = digits
    if len(national) == 10 and national[2] in "6789":
        national = national[:2] + "9" + national[2:]
    return "+55" + national if _BR_NUMBER.fullmatch(national) else None


def normalise_phone(value: str | None) -> str | None:
    """E.164 ("+5511987654321"), None for a blank value; RuleError when it is no phone."""
    if not value or not value.strip():
        return None
    fast = _fast(value.strip())
    if fast is not None:
        return fast
    number = _parse(value)
    if number is not None and number.country_code == 55:
        national = str(number.national_number)
        if len(national) == 10 and national[2] in "6789":
            number = phonenumbers.parse("+55" + national[:2] + "9" + national[2:])
    if number is None or not phonenumbers.is_valid_number(number):
        raise RuleError(_l("Telefone inválido. Use DDD e número, por exemplo (11) 98765-4321."))
    return phonenumbers.format_number(number, E164)


def format_phone(value: str | None) -> str:
    """How a stored E.164 phone is shown: national form for Brazil, international else."""
    if not value:
        return ""
    try:
        number = phonenumbers.parse(value, None)
    except phonenumbers.NumberParseException:
        return value
    style = (phonenumbers.PhoneNumberFormat.NATIONAL if number.country_code == 55
             else phonenumbers.PhoneNumberFormat.INTERNATIONAL)
    return phonenumbers.format_number(number, style)
