"""Errors of the public API as RFC 9457 problem documents (`application/problem+json`),
with a Portuguese `detail` an integrator can show as is (API-1).

Every refusal under /api/v1 goes through `problem()`: a token refused (401), a right
missing (403), an id of another company (404), a malformed body (400, 422), a body too
large (413), the rate limit (429), a rule of the app (RuleError: 422), and, whatever the
bug, a 500 that is still a problem document. Validation messages come from marshmallow in
English; `translate` gives each field its Portuguese text.
"""
from __future__ import annotations

import re

from flask import current_app, json, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from werkzeug.exceptions import HTTPException

MEDIA_TYPE = "application/problem+json"
PREFIX = "/api/v1/"

TITLES = {
    400: _l("Requisição inválida"),
    401: _l("Não autenticado"),
    403: _l("Sem permissão"),
    404: _l("Não encontrado"),
    405: _l("Método não permitido"),
    406: _l("Formato não aceito"),
    409: _l("Conflito"),
    413: _l("Corpo grande demais"),
    415: _l("Tipo de conteúdo não aceito"),
    422: _l("Dados inválidos"),
    429: _l("Muitas requisições"),
    500: _l("Erro interno"),
    503: _l("Servidor ocupado"),
}
DETAILS = {
    400: _l("A requisição está malformada."),
    401: _l("Envie o token no cabeçalho Authorization: Bearer <token>."),
    403: _l("O grupo de permissões deste token não permite esta ação."),
    404: _l("Recurso não encontrado."),
    405: _l("Método não permitido neste endereço."),
    413: _l("O corpo da requisição é grande demais."),
    415: _l("Envie o corpo como application/json."),
    429: _l("Limite de requisições deste token atingido. Aguarde e tente de novo."),
    500: _l("Erro interno. A equipe foi avisada; tente novamente em instantes."),
    503: _l("O servidor está ocupado. Tente de novo em instantes (veja Retry-After)."),
}

# marshmallow's and webargs' messages -> Portuguese (exact text, or a pattern with groups)
_EXACT = {
    "Missing data for required field.": _l("Campo obrigatório."),
    "Unknown field.": _l("Campo desconhecido."),
    "Field may not be null.": _l("Não pode ser nulo."),
    "Not a valid integer.": _l("Informe um número inteiro."),
    "Not a valid number.": _l("Informe um número."),
    "Not a valid string.": _l("Informe um texto."),
    "Not a valid boolean.": _l("Informe true ou false."),
    "Not a valid datetime.": _l("Data e hora inválidas: use ISO 8601, por exemplo 2026-12-05T14:30:00-03:00."),
    "Not a valid date.": _l("Data inválida: use AAAA-MM-DD."),
    "Not a valid list.": _l("Informe uma lista."),
    "Not a valid mapping type.": _l("Informe um objeto."),
    "Not a valid email address.": _l("E-mail inválido."),
    "Not a valid URL.": _l("URL inválida."),
    "Invalid input type.": _l("Informe um objeto JSON."),
    "Invalid JSON body.": _l("O corpo não é um JSON válido."),
    "Invalid value.": _l("Valor inválido."),
    "Field cannot be blank.": _l("Não pode ficar em branco."),
    "Shorter than minimum length 1.": _l("Não pode ficar em branco."),
}
_PATTERNS = [
    (re.compile(r"^Longer than maximum length (\d+)\.$"), _l("Texto longo demais (máximo %(n)s caracteres).")),
    (re.compile(r"^Shorter than minimum length (\d+)\.$"), _l("Texto curto demais (mínimo %(n)s caracteres).")),
    (re.compile(r"^Must be greater than or equal to (\S+) and less than or equal to (\S+)\.$"),
     _l("Use um valor entre %(n)s e %(m)s.")),
    (re.compile(r"^Must be greater than or equal to (\S+)\.$"), _l("Use um valor maior ou igual a %(n)s.")),
    (re.compile(r"^Must be less than or equal to (\S+)\.$"), _l("Use um valor menor ou igual a %(n)s.")),
    (re.compile(r"^Must be one of: (.*)\.$"), _l("Use um destes valores: %(n)s.")),
    (re.compile(r"^Length must be between (\d+) and (\d+)\.$"), _l("O tamanho deve ficar entre %(n)s e %(m)s.")),
]
_LOCATIONS = {"json": _l("corpo"), "query": _l("parâmetros"), "headers": _l("cabeçalhos"),
              "view_args": _l("endereço"), "files": _l("arquivos"), "form": _l("formulário")}


class ApiError(Exception):
    """Raised anywhere under an API view: answered as a problem document."""

    def __init__(self, status: int, detail: str | None = None, errors: dict | None = None,
                 headers: dict | None = None):
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.errors = errors
        self.headers = headers or {}


def is_api_request() -> bool:
    return request.path.startswith(PREFIX)


def _one(message) -> str:
    text = str(message)
    if text in _EXACT:
        return str(_EXACT[text])
    for pattern, pt in _PATTERNS:
        found = pattern.match(text)
        if found:
            groups = found.groups()
            return str(pt) % {"n": groups[0], "m": groups[-1]}
    return text


def translate(messages):
    """The same nested structure (field -> list of messages) in Portuguese."""
    if isinstance(messages, dict):
        return {str(key): translate(value) for key, value in messages.items()}
    if isinstance(messages, (list, tuple)):
        return [translate(m) for m in messages]
    return _one(messages)


def _flatten(errors, path=()) -> list[str]:
    out = []
    if isinstance(errors, dict):
        for key, value in errors.items():
            out += _flatten(value, path + (str(key),))
    elif isinstance(errors, list) and errors and all(isinstance(e, str) for e in errors):
        where = ".".join(p for p in path if p != "_schema")
        out.append(f"{where}: {' '.join(errors)}" if where else " ".join(errors))
    elif isinstance(errors, list):
        for index, value in enumerate(errors):
            out += _flatten(value, path + (str(index),))
    else:
        out.append(str(errors))
    return out


def problem(status: int, detail: str | None = None, errors: dict | None = None,
            headers: dict | None = None):
    """The response: `type`, `title`, `status`, `detail` and, for invalid data, `errors`
    (field -> messages)."""
    body = {
        "type": "about:blank",
        "title": str(TITLES.get(status, _("Erro %(code)s", code=status))),
        "status": status,
        "detail": detail or str(DETAILS.get(status, TITLES.get(status, ""))),
    }
    if errors:
        body["errors"] = errors
    response = current_app.response_class(json.dumps(body), status=status, mimetype=MEDIA_TYPE)
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def from_http_exception(exc: HTTPException):
    """flask-smorest's abort (422 with `messages`, 400 for broken JSON) and Werkzeug's
    errors (404, 405, 413...) as problem documents."""
    status = exc.code or 500
    data = getattr(exc, "data", None) or {}
    messages = data.get("messages")
    if messages:
        errors = {str(_LOCATIONS.get(where, where)): translate(found)
                  for where, found in messages.items()}
        lines = _flatten({k: v for k, v in errors.items()})
        detail = _("Dados inválidos: %(lines)s", lines="; ".join(lines)) if lines else None
        if status == 400 and not detail:
            detail = str(DETAILS[400])
        return problem(status, detail, errors)
    headers = {}
    if status == 405 and getattr(exc, "valid_methods", None):
        headers["Allow"] = ", ".join(exc.valid_methods)
    return problem(status, None, None, headers)
