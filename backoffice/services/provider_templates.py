"""WhatsApp message templates (CHN-4, TPL-3): the copies of the templates of a
connection's WhatsApp Business account (ProviderTemplate rows), how they are synced, and
how one is filled in for sending.

- `sync(connection)`: every page of GET /{waba_id}/message_templates, through the
  adapter's `call()` (lib/outbound, SEC-2); rows upserted by (name, language), those the
  account no longer has deleted. The caller commits.
- `approved(connection)`: the templates WhatsApp will deliver outside the 24-hour window.
- `render(template, values)`: the text the conversation shows and the Message.extra that
  channels/whatsapp.py sends ({"template": {"name", "language", "components"}}).

Only the BODY's numbered variables ({{1}}, {{2}}...) are filled in: a template that also
needs a header file or location, header or button variables, or named variables is
refused by `render` with the reason (WhatsApp would refuse it). WhatsApp refuses a
parameter longer than 1024 characters or with line breaks or tabs, so a value is
refused past 1024 characters and its line breaks and tabs become spaces.
"""
from __future__ import annotations

import re
from urllib.parse import urlsplit

from flask_babel import gettext as _
from sqlalchemy import delete, select

from ..extensions import db
from ..models import Connection, ProviderTemplate
from ..models.base import utcnow
from ..models.channels import KIND_WHATSAPP
from . import RuleError

MAX_PAGES = 20
PAGE_SIZE = 100
MAX_PARAMETER = 1024
LIST_BYTES = 4 * 1024 * 1024  # one page of 100 templates with their components
_NUMBERED = re.compile(r"\{\{\s*(\d+)\s*\}\}")
_ANY_VARIABLE = re.compile(r"\{\{[^{}]*\}\}")


def body_of(components) -> str | None:
    for component in components if isinstance(components, list) else []:
        if isinstance(component, dict) and str(component.get("type")).upper() == "BODY":
            return component.get("text") or None
    return None


def count_variables(body: str | None) -> int:
    return len(set(_NUMBERED.findall(body or "")))


def fillable(template: ProviderTemplate) -> bool:
    """Whether `render` can fill everything the template needs: the BODY's numbered
    variables only (no header file or variables, no button variables, no named ones)."""
    body = template.body or ""
    if len(_ANY_VARIABLE.findall(body)) != len(_NUMBERED.findall(body)):
        return False
    for component in template.components or []:
        if not isinstance(component, dict):
            continue
        kind = str(component.get("type") or "").upper()
        if kind == "HEADER" and (str(component.get("format") or "TEXT").upper() != "TEXT"
                                 or _ANY_VARIABLE.search(component.get("text") or "")):
            return False
        if kind == "BUTTONS" and any(
                isinstance(b, dict) and _ANY_VARIABLE.search(str(b.get("url") or ""))
                for b in component.get("buttons") or []):
            return False
    return True


def _adapter(connection: Connection):
    from ..channels import adapter_for

    if connection.kind != KIND_WHATSAPP:
        raise RuleError(_("Só conexões do WhatsApp têm modelos aprovados."))
    return adapter_for(connection)


def _same_origin(url: str, base: str) -> bool:
    """The next page is asked for with the token: only from the Graph API's own host."""
    a, b = urlsplit(url), urlsplit(base)
    return (a.scheme, a.netloc) == (b.scheme, b.netloc)


def _pages(connection: Connection):
    """The templates as the provider lists them, all pages (at most MAX_PAGES)."""
    adapter = _adapter(connection)
    url = (f"{adapter.graph_id('waba_id')}/message_templates"
           f"?fields=name,language,status,category,components&limit={PAGE_SIZE}")
    base = adapter.url("")
    for _page in range(MAX_PAGES):
        reply = adapter.graph_get(url, _("Não foi possível sincronizar os modelos"),
                                  max_bytes=LIST_BYTES)
        data = reply.data.get("data")
        if not isinstance(data, list):  # cut or odd: syncing it would delete every row
            raise RuleError(_("Não foi possível sincronizar os modelos: o WhatsApp respondeu "
                              "de um jeito inesperado."))
        yield from (item for item in data if isinstance(item, dict))
        following = (reply.data.get("paging") or {}).get("next")
        if not isinstance(following, str) or not _same_origin(following, base):
            return
        url = following


def sync(connection: Connection) -> int:
    """Bring the connection's ProviderTemplate rows in line with the account; how many
    templates the account has. RuleError in Portuguese when the provider refuses."""
    found: dict[tuple[str, str], dict] = {}
    for item in _pages(connection):
        name, language = str(item.get("name") or ""), str(item.get("language") or "")
        if name and language:
            found[(name[:512], language[:15])] = item
    rows = {(t.name, t.language): t for t in db.session.scalars(
        select(ProviderTemplate).where(ProviderTemplate.connection_id == connection.id))}
    now = utcnow()
    for key, item in found.items():
        components = item.get("components") if isinstance(item.get("components"), list) else []
        body = body_of(components)
        row = rows.get(key)
        if row is None:
            row = ProviderTemplate(company_id=connection.company_id,
                                   connection_id=connection.id, name=key[0], language=key[1])
            db.session.add(row)
        row.category = str(item.get("category") or "")[:30] or None
        row.status = str(item.get("status") or "")[:30]
        row.body = body
        row.variables = count_variables(body)
        row.components = components
        row.synced_at = now
    gone = [t.id for key, t in rows.items() if key not in found]
    if gone:
        db.session.execute(delete(ProviderTemplate).where(ProviderTemplate.id.in_(gone))
                           .execution_options(synchronize_session="fetch"))
    db.session.flush()
    return len(found)


def approved(connection: Connection) -> list[ProviderTemplate]:
    return list(db.session.scalars(
        select(ProviderTemplate).where(ProviderTemplate.connection_id == connection.id,
                                       ProviderTemplate.company_id == connection.company_id,
                                       ProviderTemplate.status == "APPROVED")
        .order_by(ProviderTemplate.name, ProviderTemplate.language)))


def render(template: ProviderTemplate, values: list[str]) -> tuple[str, dict]:
    """(the text shown in the conversation, Message.extra to send). RuleError names the
    first variable left blank or too long, or a template it cannot fill."""
    if not fillable(template):
        raise RuleError(_("O modelo %(name)s pede arquivo ou variáveis no cabeçalho ou nos "
                          "botões, que o Atende ainda não preenche: escolha outro modelo.",
                          name=template.name))
    filled: list[str] = []
    for position in range(template.variables or 0):
        value = values[position] if position < len(values) else ""
        value = re.sub(r"[\t\r\n]+", " ", str(value or "").replace("\x00", "")).strip()
        if not value:
            raise RuleError(_("Preencha a variável {{%(n)s}} do modelo %(name)s.",
                              n=position + 1, name=template.name))
        if len(value) > MAX_PARAMETER:
            raise RuleError(_("A variável {{%(n)s}} do modelo %(name)s pode ter no máximo "
                              "%(max)s caracteres.", n=position + 1, name=template.name,
                              max=MAX_PARAMETER))
        filled.append(value)

    def fill(match):
        n = int(match.group(1))
        return filled[n - 1] if 0 < n <= len(filled) else match.group(0)

    text = _NUMBERED.sub(fill, template.body or "") or _("Modelo %(name)s",
                                                          name=template.name)
    components = ([{"type": "body",
                    "parameters": [{"type": "text", "text": v} for v in filled]}]
                  if filled else [])
    return text, {"template": {"name": template.name, "language": template.language,
                               "components": components}}
