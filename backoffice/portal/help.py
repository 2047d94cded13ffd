"""The portal's help pages (ART-1), for logged-in representatives only: the help center
with public AND portal-only published articles of the company, the suggestions of Novo
contato (JSON) and "Isso resolveu?" (recorded with where=portal).

An article that is a draft, of another company or of an inactive category is the same
404 as a missing one.
"""
from __future__ import annotations

from flask import abort, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _

from ..extensions import db
from ..lib import after_commit
from ..lib.headers import allow_external_images
from ..models.articles import WHERE_PORTAL
from ..services import RuleError, articles
from ..web.api import ApiError, json_error
from ..help.suggestions import limit, read_feedback, suggestions
from .blueprint import bp
from .guard import account_required, current_account


def _company_id() -> int:
    return g.portal_company.id


def _json_account() -> None:
    if current_account() is None:
        raise ApiError(401, _("Entre no portal para continuar."))


@bp.errorhandler(ApiError)
def _api_error(exc: ApiError):
    db.session.rollback()
    return json_error(exc.message, exc.status, exc.headers)


@bp.get("/ajuda/")
@account_required
def help_index():
    raw = request.args.get("q")
    found, error = None, None
    if raw is not None and raw.strip():
        try:
            found = articles.search(_company_id(), raw, articles.PORTAL)
        except RuleError as exc:
            error = str(exc)
    return render_template("portal/help_index.html", query=raw or "", found=found,
                           error=error, index=articles.by_category(_company_id(), articles.PORTAL),
                           summary=articles.summary,
                           article_url=lambda a: url_for("portal.help_article", article_id=a.id)
                           ), 400 if error else 200


@bp.get("/ajuda/<int:article_id>")
@account_required
def help_article(article_id: int):
    found = articles.readable(_company_id(), article_id, articles.PORTAL)
    if found is None:
        abort(404)
    allow_external_images()  # the body's images may be hosted elsewhere
    return render_template("portal/help_article.html", article=found,
                           html=articles.render(found.body),
                           feedback_url=url_for("portal.help_feedback", article=found.id),
                           view_url=url_for("portal.help_viewed", article_id=found.id))


@bp.post("/ajuda/<int:article_id>/lido")
@account_required
def help_viewed(article_id: int):
    """One reader more (see help.viewed)."""
    found = articles.readable(_company_id(), article_id, articles.PORTAL)
    if found is None:
        abort(404)
    limit("portal-help-view", _company_id())
    articles.count_view(found)
    db.session.commit()
    return "", 204


@bp.get("/ajuda/sugestoes")
def help_suggest():
    """JSON suggestions for Novo contato (`?q=`)."""
    _json_account()
    limit("portal-help-suggest", _company_id())
    return suggestions(_company_id(), articles.PORTAL,
                       lambda a: url_for("portal.help_article", article_id=a.id))


@bp.post("/ajuda/resolveu")
def help_feedback():
    """"Isso resolveu?": JSON {article, solved} from the suggestions (answered in JSON), or
    the article page's form (?article=<id>, answered with a redirect)."""
    if request.is_json:
        _json_account()
        article_id, solved = read_feedback()
    else:
        if current_account() is None:
            abort(401)
        article_id, solved = request.args.get("article"), request.form.get("solved")
    found = articles.readable(_company_id(), article_id, articles.PORTAL)
    if found is None:
        if request.is_json:
            raise ApiError(404, _("Artigo não encontrado."))
        abort(404)
    try:
        articles.record(found, solved, WHERE_PORTAL)
    except RuleError as exc:
        db.session.rollback()
        if request.is_json:
            raise ApiError(400, str(exc))
        flash(str(exc), "error")
        return redirect(url_for("portal.help_article", article_id=found.id))
    after_commit.commit()
    if request.is_json:
        return {"ok": True}, 201
    flash(_("Obrigado pela resposta!"), "success")
    return redirect(url_for("portal.help_article", article_id=found.id))
