"""Mensagens de despedida (AUT-6): texts the agent may send when closing a ticket."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import TextAreaField
from wtforms.validators import InputRequired, Length, ValidationError

from ..services import farewells as rules
from ..services import messages
from ..tenancy import current_company_id
from .base import MessageFieldsMixin, TenantModelView


def _known_variables(form, field):
    unknown = messages.validate_template(field.data)
    if unknown:
        raise ValidationError(messages.unknown_variables_message(unknown))


class FarewellMessageView(MessageFieldsMixin, TenantModelView):
    area = "farewells"
    message_fields = ("body",)
    can_view_details = True
    column_list = ["title", "body", "active", "created_at"]
    column_details_list = ["title", "body", "active", "created_at"]
    column_export_list = ["title", "body", "active", "created_at"]
    column_searchable_list = ["title", "body"]
    column_sortable_list = ["title", "active", "created_at"]
    column_default_sort = "title"
    column_filters = ["active"]
    column_labels = {"title": _l("Título"), "body": _l("Mensagem"), "active": _l("Ativa"),
                     "created_at": _l("Criada em")}
    column_formatters = {
        "body": lambda v, c, m, p: (m.body[:120] + "…") if len(m.body or "") > 120 else m.body,
    }
    # the whole message in exports and details, not the list's shortened one
    column_formatters_export = {}
    column_formatters_detail = {}
    form_columns = ["title", "body", "active"]
    form_overrides = {"body": TextAreaField}
    form_args = {
        "title": {"validators": [InputRequired(), Length(max=80)],
                  "description": _l("Como o atendente encontra a mensagem ao encerrar. "
                                    "Por exemplo: Agradecimento.")},
        "body": {"validators": [InputRequired(), Length(max=rules.MAX_BODY), _known_variables],
                 "render_kw": {"rows": 5}},
        "active": {"default": True,
                   "description": _l("Só mensagens ativas são oferecidas ao encerrar um "
                                     "atendimento.")},
    }

    def validate_change(self, form, model, is_created):
        model.company_id = model.company_id or current_company_id()
        rules.check_farewell(model, exclude_id=None if is_created else model.id)
