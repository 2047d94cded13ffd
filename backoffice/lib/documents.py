"""CPF and CNPJ: validated with python-stdnum, stored normalised, shown formatted.

python-stdnum accepts repeated-digit CPFs (111.111.111-11 passes its check digits), which
the Receita never issues: they are refused here. CNPJs may be the 2026 alphanumeric kind.
"""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from stdnum.br import cnpj as stdnum_cnpj
from stdnum.br import cpf as stdnum_cpf
from stdnum.exceptions import ValidationError as StdnumError

from .errors import RuleError

PF = "PF"
PJ = "PJ"


def _compact(value: str) -> str:
    return "".join(filter(str.isalnum, value.upper()))


def normalise_cpf(value: str | None) -> str | None:
    if not value or not value.strip():
        return None
    compact = _compact(value)
    try:
        number = stdnum_cpf.validate(compact)
    except StdnumError:
        raise RuleError(_l("CPF inválido: confira os dígitos."))
    if len(set(number)) == 1:
        raise RuleError(_l("CPF inválido: números com todos os dígitos iguais não existem."))
    return number


def normalise_cnpj(value: str | None) -> str | None:
    if not value or not value.strip():
        return None
    try:
        return stdnum_cnpj.validate(_compact(value))
    except StdnumError:
        raise RuleError(_l("CNPJ inválido: confira os dígitos."))


def normalise_document(value: str | None, person_type: str | None = None) -> tuple[str | None, str | None]:
    """(document, person type) from what a person typed: 11 characters is a CPF (PF),
    14 a CNPJ (PJ). A document that contradicts the given type is refused."""
    if not value or not value.strip():
        return None, person_type
    compact = _compact(value)
    if compact.isdigit() and len(compact) in (9, 10, 12, 13):
        # Excel reads a CPF/CNPJ typed as a number and drops its leading zeros
        compact = compact.zfill(11 if len(compact) < 11 else 14)
    if len(compact) == 11 and compact.isdigit():
        if person_type == PJ:
            raise RuleError(_l("Pessoa jurídica precisa de um CNPJ, não de um CPF."))
        return normalise_cpf(compact), PF
    if len(compact) == 14:
        if person_type == PF:
            raise RuleError(_l("Pessoa física precisa de um CPF, não de um CNPJ."))
        return normalise_cnpj(compact), PJ
    raise RuleError(_l("CPF/CNPJ inválido: o CPF tem 11 dígitos e o CNPJ 14."))


def format_document(value: str | None) -> str:
    if not value:
        return ""
    if len(value) == 11:
        return stdnum_cpf.format(value)
    if len(value) == 14:
        return stdnum_cnpj.format(value)
    return value
