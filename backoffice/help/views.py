"""Pages and JSON of the public help center (see the package docstring)."""
from __future__ import annotations

from flask import abort, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _

from ..extensions import db
from ..lib import after_commit
from ..lib.headers import allow_external_images
from ..models.articles import WHERE_HELP
from ..services import RuleError, articles, saas
from ..web.api import handle_api_errors, json_error
from .blueprint import bp
from .suggestions import limit, suggestions

handle_api_errors(bp)


@bp.url_value_preprocessor
def _company_of_domain(_endpoint, values):
    company = saas.company_of_domain((values or {}).pop("domain", None))
    if company is None:
        abort(404)
    g.help_company = company
    g.tenant_id = company.id  # what is written here (answers) is this company's


@bp.url_defaults
def _keep_domain(_endpoint, values):
    company = g.get("help_company")
    if company is not None:
        values.setdefault("domain", company.domain)


@bp.errorhandler(404)
def _not_found(_exc):
    if "/api/" in request.path:
        return json_error(_("Não encontrado."), 404)
    return render_template("help/not_found.html"), 404


def _article_or_404(article_id: int):
    article = articles.readable(g.help_company.id, article_id, articles.PUBLIC)
    if article is None:
        abort(404)
    return article


@bp.get("/")
def index():
    raw = request.args.get("q")
    found, error = None, None
    if raw is not None and raw.strip():
        try:
            found = articles.search(g.help_company.id, raw, articles.PUBLIC)
        except RuleError as exc:
            error = str(exc)
    status = 400 if error else 200
    return render_template("help/index.html", company=g.help_company, query=raw or "",
                           found=found, error=error,
                           index=articles.by_category(g.help_company.id, articles.PUBLIC),
                           summary=articles.summary,
                           article_url=lambda a: url_for("help.article", article_id=a.id)), status


@bp.get("/artigos/<int:article_id>")
def article(article_id: int):
    found = _article_or_404(article_id)
    allow_external_images()  # the body's images may be hosted elsewhere
    return render_template("help/article.html", company=g.help_company, article=found,
                           html=articles.render(found.body),
                           feedback_url=url_for("help.feedback", article_id=found.id),
                           view_url=url_for("help.viewed", article_id=found.id))


@bp.post("/artigos/<int:article_id>/lido")
def viewed(article_id: int):
    """One reader more, posted by the article page's script once it is shown (a GET
    never writes): the admin sees how many read it beside how many it helped."""
    found = _article_or_404(article_id)
    limit("help-view", g.help_company.id)
    articles.count_view(found)
    db.session.commit()
    return "", 204


@bp.post("/artigos/<int:article_id>/resolveu")
def feedback(article_id: int):
    """"Isso resolveu?" from the article page: one answer per click (a form with CSRF)."""
    found = _article_or_404(article_id)
    try:
        articles.record(found, request.form.get("solved"), WHERE_HELP)
    except RuleError as exc:
        db.session.rollback()
        flash(str(exc), "error")
        return redirect(url_for("help.article", article_id=article_id))
    after_commit.commit()
    flash(_("Obrigado pela resposta!"), "success")
    return redirect(url_for("help.article", article_id=article_id))


@bp.get("/api/sugestoes")
def suggest():
    """JSON suggestions for `?q=` (rate-limited per address)."""
    limit("help-suggest", g.help_company.id)
    return suggestions(g.help_company.id, articles.PUBLIC,
                       lambda a: url_for("help.article", article_id=a.id))

