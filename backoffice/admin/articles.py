"""Categorias de artigos and Artigos de ajuda (ART-1), under "Fale Conosco".

The rules (title, category of the company, search index) live in services/articles; the
article form shows the sanitised rendering of the body (the same HTML the help center
and the portal show), and "Pré-visualizar" renders what is being typed through the
same function before it is saved.
"""
from __future__ import annotations

from flask import request
from flask_admin import expose
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from markupsafe import Markup
from wtforms import TextAreaField
from wtforms.validators import InputRequired, Length, Optional

from ..lib.headers import allow_external_images
from ..models.articles import AUDIENCES, STATUSES
from ..services import articles
from ..tenancy import current_company_id
from .base import TenantModelView


class ArticleCategoryView(TenantModelView):
    area = "articles"
    column_list = ["name", "position", "active", "created_at"]
    column_searchable_list = ["name"]
    column_sortable_list = ["name", "position", "active", "created_at"]
    column_default_sort = [("position", False), ("name", False)]
    column_filters = ["active"]
    column_labels = {"name": _l("Nome"), "position": _l("Ordem"), "active": _l("Ativa"),
                     "created_at": _l("Criada em")}
    column_descriptions = {
        "position": _l("Menor primeiro, na central de ajuda e no portal."),
        "active": _l("Desmarcada: a categoria e seus artigos deixam de aparecer aos clientes."),
    }
    form_columns = ["name", "position", "active"]
    form_args = {
        "name": {"validators": [InputRequired(), Length(max=80)],
                 "description": _l("Por exemplo: Financeiro.")},
        "position": {"default": 0, "validators": [Optional()]},
        "active": {"default": True},
    }

    def validate_change(self, form, model, is_created):
        articles.check_category(model, current_company_id())

    def validate_delete(self, model):
        articles.check_category_delete(model)


def _deflection(view, context, model, name) -> str:
    share = articles.stats(model).deflection
    return "" if share is None else f"{round(share * 100)}%"


class ArticleView(TenantModelView):
    area = "articles"
    can_view_details = True
    edit_template = "admin/article_edit.html"
    create_template = "admin/article_create.html"
    details_template = "admin/article_details.html"
    column_list = ["title", "category", "status", "audience", "position", "views",
                   "solved_yes", "solved_no", "deflection", "updated_at"]
    column_details_list = ["title", "category", "status", "audience", "position", "views",
                           "solved_yes", "solved_no", "deflection", "created_at", "updated_at"]
    column_export_list = column_details_list
    column_searchable_list = ["title", "body"]
    column_sortable_list = ["title", "status", "audience", "position", "views", "solved_yes",
                            "solved_no", "updated_at"]
    column_default_sort = [("position", False), ("title", False)]
    column_filters = ["status", "audience"]
    column_choices = {"status": list(STATUSES.items()), "audience": list(AUDIENCES.items())}
    column_labels = {
        "title": _l("Título"), "category": _l("Categoria"), "body": _l("Texto (Markdown)"),
        "status": _l("Situação"), "audience": _l("Público"), "position": _l("Ordem"),
        "views": _l("Visualizações"), "solved_yes": _l("Resolveu: sim"),
        "solved_no": _l("Resolveu: não"), "deflection": _l("Contatos evitados"),
        "created_at": _l("Criado em"), "updated_at": _l("Atualizado em"),
    }
    column_descriptions = {
        "deflection": _l("Parte das respostas \"Isso resolveu?\" que disseram sim."),
    }
    column_formatters = {"deflection": _deflection}
    column_formatters_export = {"deflection": _deflection}
    column_formatters_detail = {"deflection": _deflection}
    form_columns = ["category", "title", "body", "status", "audience", "position"]
    form_overrides = {"body": TextAreaField}
    form_choices = {"status": list(STATUSES.items()), "audience": list(AUDIENCES.items())}
    form_args = {
        "category": {"validators": [InputRequired()]},
        "title": {"validators": [InputRequired(), Length(max=articles.MAX_TITLE)]},
        "body": {"validators": [InputRequired(), Length(max=articles.MAX_BODY)],
                 "render_kw": {"rows": 14},
                 "description": _l("Markdown: **negrito**, _itálico_, listas com -, links "
                                   "[texto](https://...). HTML não é aceito.")},
        "status": {"default": "draft",
                   "description": _l("Rascunho: só aparece aqui. Publicado: os clientes "
                                     "encontram o artigo.")},
        "audience": {"default": "public",
                     "description": _l("Público: central de ajuda, chat do site e portal. "
                                       "Somente no portal: só representantes logados.")},
        "position": {"default": 0, "validators": [Optional()]},
    }

    def validate_change(self, form, model, is_created):
        articles.check_article(model, current_company_id())

    def after_delete_checks(self, model):
        articles.unindex(model.id)

    def render(self, template, **kwargs):
        model = kwargs.get("model")
        allow_external_images()  # the preview shows the body's images
        kwargs["preview"] = articles.render(model.body) if model is not None else Markup("")
        return super().render(template, **kwargs)

    @expose("/preview/", methods=("POST",))
    def preview(self):
        """The sanitised rendering of the body being typed (POST with CSRF; writes
        nothing)."""
        if not (self.allowed("create") or self.allowed("edit")):
            return {"error": _("Sem permissão.")}, 403
        body = request.form.get("body", "")
        if len(body) > articles.MAX_BODY:
            return {"error": _("Texto longo demais: use no máximo %(n)s caracteres.",
                               n=articles.MAX_BODY)}, 400
        return {"html": str(articles.render(body))}
