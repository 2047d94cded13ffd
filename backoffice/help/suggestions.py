"""The JSON of article suggestions, shared by the help center, the portal and the website
widget (ART-1): the query read from `?q=` (400 in Portuguese when it is no text or too
long), the matching articles as {id, title, summary, url}."""
from __future__ import annotations

from flask import current_app, request
from flask_babel import gettext as _

from ..lib.addresses import client_address
from ..services import RuleError, articles, as_id, ratelimit
from ..web.api import ApiError

DEFAULT_RATE_LIMIT = "30/10,300/600"   # suggestions per visitor (IP address) and company
LIMIT = 5


def limit(scope: str, company_id: int) -> None:
    """The rate limit of public help routes (HELP_RATE_LIMIT), per company and address."""
    limits = ratelimit.parse(current_app.config.get("HELP_RATE_LIMIT") or DEFAULT_RATE_LIMIT)
    wait = ratelimit.hit(scope, f"{company_id}:{client_address()}", limits)
    if wait:
        raise ApiError(429, _("Muitas buscas em pouco tempo. Aguarde alguns segundos e tente "
                              "de novo."), {"Retry-After": str(wait)})


def suggestions(company_id: int, audiences, url_of) -> dict:
    """{"articles": [...]} for `?q=`; `url_of(article)` is where the reader opens it."""
    raw = request.args.get("q", "")
    try:
        found = articles.suggest(company_id, raw, audiences, limit=LIMIT)
    except RuleError as exc:
        raise ApiError(400, str(exc))
    return {"articles": [{"id": a.id, "title": a.title, "summary": articles.summary(a.body),
                          "url": url_of(a)} for a in found]}


def read_feedback() -> tuple[int | None, bool]:
    """(article id, solved) from a JSON body {"article": id, "solved": true/false}."""
    data = request.get_json(silent=True) if request.is_json else request.form.to_dict()
    if not isinstance(data, dict):
        raise ApiError(400, _("Requisição inválida."))
    try:
        solved = articles.read_solved(data.get("solved"))
    except RuleError as exc:
        raise ApiError(400, str(exc))
    return as_id(data.get("article")), solved
