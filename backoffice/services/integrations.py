"""HTTP integrations (INT-1): named outbound endpoints a company registers once (URL,
method, headers, timeout) and that the chatbot's HTTP node, the automation rules' http
action and later features call by name.

Headers usually carry API keys: they are kept as one JSON object inside an encrypted
column (SEC-8) and never shown back. Screens show them as "Nome: ••••"; a line sent back
with the mask as its value keeps the stored value (`from_lines`). Every request goes
through lib/outbound (SEC-2), with the integration's own timeout.
"""
from __future__ import annotations

import json
import re
import time

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from ..extensions import db
from ..lib import outbound
from ..models import Integration
from ..models.automation import AutomationRule, Flow, FlowVersion
from . import RuleError
from .webhooks import check_url

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
MIN_TIMEOUT, MAX_TIMEOUT, DEFAULT_TIMEOUT = 1, 30, 10
MAX_HEADERS = 20
MAX_NAME, MAX_VALUE = 100, 4000
MAX_BYTES = 256 * 1024
MASK = "••••"
# RFC 9110 token characters: anything else cannot be a header name
HEADER_NAME = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")
# Set by the HTTP client itself or meaningful only to one hop: a company setting them
# could smuggle a second request or confuse the connection.
FORBIDDEN_HEADERS = frozenset({
    "host", "content-length", "connection", "keep-alive", "proxy-connection",
    "proxy-authenticate", "proxy-authorization", "te", "trailer", "transfer-encoding",
    "upgrade", "expect",
})
NAME_MESSAGE = _l("Informe o nome da integração.")
TEST_BODY = b'{"ping": true}'


# -- headers ---------------------------------------------------------------------------


def check_headers(pairs) -> dict[str, str]:
    """Name/value pairs as stored (an ordered dict), or RuleError in Portuguese."""
    headers: dict[str, str] = {}
    seen: set[str] = set()
    for name, value in pairs or ():
        name, value = str(name or "").strip(), str(value or "").strip()
        if not name:
            raise RuleError(_("Cada cabeçalho precisa de um nome, no formato Nome: valor."))
        if len(name) > MAX_NAME or not HEADER_NAME.match(name):
            raise RuleError(_("Nome de cabeçalho inválido: %(name)s. Use só letras, números e "
                              "- (por exemplo: Authorization, X-Api-Key).", name=name[:40]))
        if name.lower() in FORBIDDEN_HEADERS:
            raise RuleError(_("O cabeçalho %(name)s é definido pelo sistema e não pode ser "
                              "informado.", name=name))
        if name.lower() in seen:
            raise RuleError(_("O cabeçalho %(name)s aparece mais de uma vez.", name=name))
        if any(ch in value for ch in "\r\n\0"):
            raise RuleError(_("O valor do cabeçalho %(name)s não pode ter quebras de linha.",
                              name=name))
        if not value:
            raise RuleError(_("Informe o valor do cabeçalho %(name)s.", name=name))
        if len(value) > MAX_VALUE:
            raise RuleError(_("O valor do cabeçalho %(name)s é longo demais.", name=name))
        seen.add(name.lower())
        headers[name] = value
    if len(headers) > MAX_HEADERS:
        raise RuleError(_("Use no máximo %(n)s cabeçalhos.", n=MAX_HEADERS))
    return headers


def headers_of(integration: Integration) -> dict[str, str]:
    """The stored headers, decrypted (for sending only: never put them on a page)."""
    try:
        data = json.loads(integration.headers or "{}")
    except ValueError:
        return {}
    return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}


def set_headers(integration: Integration, pairs) -> None:
    headers = check_headers(pairs)
    text = json.dumps(headers, ensure_ascii=False) if headers else None
    if text != integration.headers:  # a new Fernet token would log a change that is none
        integration.headers = text


def header_names(integration: Integration) -> list[str]:
    return list(headers_of(integration))


def masked(integration: Integration) -> str:
    """"Authorization: ••••", one per line: what a page may show of the headers."""
    return "\n".join(f"{name}: {MASK}" for name in header_names(integration))


def from_lines(text: str | None, stored: dict[str, str] | None = None) -> list[tuple[str, str]]:
    """The pairs typed as "Nome: valor", one per line (blank lines skipped). A value left
    as the mask keeps the stored value of that name; a mask with nothing stored behind
    it is refused."""
    stored_by_name = {k.lower(): v for k, v in (stored or {}).items()}
    pairs = []
    for line in (text or "").replace("\r\n", "\n").split("\n"):
        if not line.strip():
            continue
        if ":" not in line:
            raise RuleError(_("Escreva cada cabeçalho no formato Nome: valor (linha «%(line)s»).",
                              line=line.strip()[:40]))
        name, value = (part.strip() for part in line.split(":", 1))
        if value == MASK:
            if name.lower() not in stored_by_name:
                raise RuleError(_("Informe o valor do cabeçalho %(name)s.", name=name[:40]))
            value = stored_by_name[name.lower()]
        pairs.append((name, value))
    return pairs


# -- the integration -------------------------------------------------------------------


def check(integration: Integration) -> None:
    """Name (unique in the company), URL (SEC-2), method and timeout; RuleError in
    Portuguese. The headers are checked by set_headers."""
    integration.name = (integration.name or "").strip()
    if not integration.name:
        raise RuleError(NAME_MESSAGE)
    if len(integration.name) > 80:
        raise RuleError(_("O nome da integração pode ter até 80 caracteres."))
    taken = db.session.scalar(Integration.owned(integration.company_id, Integration.id).where(
        Integration.name == integration.name, Integration.id != (integration.id or 0)))
    if taken is not None:
        raise RuleError(_("Já existe uma integração com esse nome."))
    integration.url = check_url(integration.url)
    if len(integration.url) > 500:
        raise RuleError(_("A URL pode ter até 500 caracteres."))
    integration.method = str(integration.method or "").upper()
    if integration.method not in METHODS:
        raise RuleError(_("Escolha o método HTTP: %(methods)s.", methods=", ".join(METHODS)))
    timeout = integration.timeout
    if isinstance(timeout, bool) or not isinstance(timeout, int) or \
            not MIN_TIMEOUT <= timeout <= MAX_TIMEOUT:
        raise RuleError(_("O tempo limite deve ser de %(min)s a %(max)s segundos.",
                          min=MIN_TIMEOUT, max=MAX_TIMEOUT))


def by_name(company_id: int | None, name) -> Integration | None:
    """The company's integration called `name`, or None (another company's is never
    found: PLT-1)."""
    name = str(name or "").strip()
    if company_id is None or not name:
        return None
    return db.session.scalar(Integration.owned(company_id).where(Integration.name == name))


def names(company_id: int | None) -> list[str]:
    """The company's integration names, for the editors' choices."""
    return list(db.session.scalars(Integration.owned(company_id, Integration.name)
                                   .order_by(Integration.name)))


def call(integration: Integration, body: bytes | None = None, extra_headers=None, *,
         max_bytes: int = MAX_BYTES) -> outbound.Response:
    """Send to the integration's URL with its method and timeout, through lib/outbound.
    `extra_headers` are the caller's defaults (Accept, Content-Type); the integration's
    own headers win over them, name for name. OutboundError on any failure."""
    headers = {str(k): str(v) for k, v in (extra_headers or {}).items()}
    for name, value in headers_of(integration).items():
        for same in [k for k in headers if k.lower() == name.lower()]:
            del headers[same]
        headers[name] = value
    payload = body if integration.method != "GET" else None
    return outbound.request(integration.method, integration.url, payload, headers,
                            timeout=integration.timeout or DEFAULT_TIMEOUT, max_bytes=max_bytes)


def test(integration: Integration) -> str:
    """The "Testar" button: one request now, told in a short sentence ("Resposta 200 em
    84 ms") or the generic reason of lib/outbound."""
    extra = {"Accept": "application/json"}
    body = None
    if integration.method != "GET":
        body = TEST_BODY
        extra["Content-Type"] = "application/json"
    started = time.monotonic()
    try:
        answer = call(integration, body, extra, max_bytes=1024)
    except outbound.OutboundError as exc:
        return str(exc)
    elapsed = round((time.monotonic() - started) * 1000)
    return _("Resposta %(status)s em %(ms)s ms", status=answer.status, ms=elapsed)


def used_by(company_id: int, name: str) -> list[str]:
    """The flows and automation rules whose HTTP steps call the integration `name`, by
    their names: renaming or deleting it would break them."""
    def calls(actions) -> bool:
        return any(isinstance(a, dict) and a.get("type") == "http"
                   and str(a.get("integration") or "").strip() == name for a in actions or ())

    def nodes(graph) -> list:
        found = (graph or {}).get("nodes") if isinstance(graph, dict) else None
        return [{**(n.get("data") or {}), "type": n.get("type")}
                for n in (found or {}).values() if isinstance(n, dict)
                and isinstance(n.get("data") or {}, dict)]

    users = []
    for flow in db.session.scalars(Flow.owned(company_id)):
        graphs = [flow.draft]
        if flow.published_version_id is not None:
            graphs.append(db.session.scalar(select(FlowVersion.graph).where(
                FlowVersion.id == flow.published_version_id)))
        if any(calls(nodes(g)) for g in graphs):
            users.append(flow.name)
    users += [rule.name for rule in db.session.scalars(AutomationRule.owned(company_id))
              if calls(rule.actions)]
    return users
