"""Fluxos de chatbot (AUT-2): the company's flows, their settings, and the visual editor.

The list and the form hold a flow's settings (name, handover keywords, timeout); the
"Editor" page draws its graph (Drawflow, vendored in static/vendor/drawflow) and talks to
three JSON routes of this view:

- save:     the drawing becomes the draft, once the checker accepts it (flows.edit);
- publish:  the drawing is saved, then published as a new immutable version (flows.edit);
- simulate: one turn of the test pane on the drawing, no channel and nothing written
            (flows.view).

The graph travels in the format of backoffice.automation.flows.spec; the browser converts
to and from Drawflow's own. Nothing in it is trusted: the checker (service.check) refuses
ids of another company's rows, unknown node types and dangling links, and simulate runs
with the logged-in user's company, never one named by the request.
"""
from __future__ import annotations

import logging

from flask import abort, jsonify, request
from flask_admin import expose
from flask_admin.model.template import EndpointLinkRowAction
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import select
from wtforms import IntegerField, TextAreaField
from wtforms.validators import (
    InputRequired,
    Length,
    NumberRange,
    Optional,
    ValidationError,
)

from ..automation import conditions
from ..automation.flows import spec
from ..extensions import db
from ..models import Connection, Department, MessageTemplate, Period, Tag, User
from ..models.channels import CONNECTION_KINDS
from ..models.templates import KIND_ATTACHMENT, KIND_TEXT
from ..services import RuleError, audit, integrations, messages
from ..tenancy import current_company_id
from .base import MessageFieldsMixin, TenantModelView

log = logging.getLogger(__name__)

# A drawing of MAX_NODES nodes with long texts stays far below this; anything larger is
# no editor's request.
MAX_BODY = 1024 * 1024
MAX_TEXT = 4096


class BadRequest(Exception):
    """A request body the JSON routes refuse (400), with the reason in Portuguese."""


def _known_variables(form, field):
    unknown = messages.validate_template(field.data)
    if unknown:
        raise ValidationError(messages.unknown_variables_message(unknown))


def _published(view, context, model, name):
    version = model.published_version
    return f"v{version.number}" if version is not None else _("Não publicado")


def new_graph() -> dict:
    """The draft of a new flow: its start node alone."""
    return {"nodes": {"1": {"type": "start", "x": 60, "y": 160, "data": {}, "next": {}}}}


def _names(rows) -> str:
    return ", ".join(str(r) for r in rows)


class FlowView(MessageFieldsMixin, TenantModelView):
    area = "flows"
    message_fields = ("timeout_message",)
    column_list = ["name", "active", "published_version", "updated_at"]
    column_export_list = ["name", "description", "active", "published_version", "updated_at"]
    column_searchable_list = ["name"]
    column_sortable_list = ["name", "active", "updated_at"]
    column_default_sort = "name"
    column_filters = ["active"]
    column_labels = {
        "name": _l("Nome"), "description": _l("Descrição"), "active": _l("Ativo"),
        "published_version": _l("Versão publicada"), "updated_at": _l("Atualizado em"),
        "handover_keywords": _l("Palavras para falar com um atendente"),
        "timeout_minutes": _l("Tempo limite sem resposta (minutos)"),
        "timeout_message": _l("Mensagem ao esgotar o tempo"),
    }
    column_formatters = {
        "published_version": _published,
    }
    column_formatters_export = column_formatters
    column_extra_row_actions = [
        EndpointLinkRowAction("fa fa-sitemap", ".editor_view", title=_l("Editor")),
    ]
    form_columns = ["name", "description", "active", "handover_keywords", "timeout_minutes",
                    "timeout_message"]
    form_overrides = {"timeout_message": TextAreaField, "timeout_minutes": IntegerField}
    form_args = {
        "name": {"validators": [InputRequired(), Length(max=80)],
                 "description": _l("Por exemplo: Atendimento inicial.")},
        "description": {"validators": [Optional(), Length(max=255)]},
        "active": {"default": True,
                   "description": _l("Só fluxos ativos atendem os clientes.")},
        "handover_keywords": {
            "validators": [Optional(), Length(max=255)], "default": "atendente",
            "description": _l("Separadas por vírgula. Quando o cliente escreve uma delas, "
                              "a conversa passa para um atendente."),
        },
        "timeout_minutes": {
            "validators": [InputRequired(), NumberRange(min=1, max=10080)], "default": 30,
            "description": _l("Se o cliente ficar esse tempo sem responder, o fluxo termina "
                              "e o atendimento vai para a fila."),
        },
        "timeout_message": {"validators": [Optional(), Length(max=MAX_TEXT), _known_variables],
                            "render_kw": {"rows": 3}},
    }

    # -- rules ------------------------------------------------------------------------
    def validate_change(self, form, model, is_created):
        model.name = (model.name or "").strip()
        if not model.name:
            raise RuleError(_l("Informe o nome do fluxo."))
        company_id = current_company_id()
        taken = db.session.scalar(select(self.model.id).where(
            self.model.company_id == company_id, self.model.name == model.name,
            self.model.id != (model.id or 0)))
        if taken is not None:
            raise RuleError(_l("Já existe um fluxo com esse nome."))
        keywords = [w.strip() for w in (model.handover_keywords or "").split(",") if w.strip()]
        model.handover_keywords = ", ".join(keywords)
        model.timeout_message = (model.timeout_message or "").strip() or None
        if is_created and not model.draft:
            model.draft = new_graph()

    def validate_delete(self, model):
        company_id = current_company_id()
        connections = db.session.scalars(Connection.owned(company_id).where(
            Connection.flow_id == model.id).order_by(Connection.name)).all()
        departments = db.session.scalars(Department.owned(company_id).where(
            Department.flow_id == model.id).order_by(Department.name)).all()
        if connections or departments:
            used = []
            if connections:
                used.append(_("conexões: %(names)s", names=_names(connections)))
            if departments:
                used.append(_("departamentos: %(names)s", names=_names(departments)))
            raise RuleError(_("O fluxo não pode ser excluído porque está em uso (%(used)s). "
                              "Escolha outro fluxo nesses cadastros antes.",
                              used="; ".join(used)))

    def get_save_return_url(self, model, is_created=False):
        if is_created:  # a new flow opens in the editor
            return self.get_url(".editor_view", id=model.id)
        return super().get_save_return_url(model, is_created)

    # -- the editor ---------------------------------------------------------------------
    def _flow_or_404(self):
        flow = self.get_one(request.args.get("id", ""))
        if flow is None:
            abort(404)
        return flow

    def editor_data(self, flow) -> dict:
        """What the editor's script needs: the draft, the palette, the company's rows for
        the selects (ids and names of this company only) and the routes."""
        company_id = current_company_id()

        def rows(query):
            return [{"id": r[0], "name": str(r[1])} for r in db.session.execute(query).all()]

        graph = flow.draft if isinstance(flow.draft, dict) and flow.draft.get("nodes") else new_graph()
        return {
            "flow": {"id": flow.id, "name": flow.name,
                     "version": flow.published_version.number if flow.published_version else None},
            "graph": graph,
            "spec": spec.editor_spec(),
            "type_order": list(spec.NODE_TYPES),
            "fields": [{"id": k, "name": str(v)} for k, v in conditions.field_choices(company_id)],
            "departments": rows(Department.owned(company_id, Department.id, Department.name)
                                .order_by(Department.name)),
            "agents": rows(select(User.id, User.name)
                           .where(User.company_id == company_id, User.active.is_(True))
                           .order_by(User.name)),
            "tags": rows(Tag.owned(company_id, Tag.id, Tag.name)
                         .where(Tag.owner_id.is_(None)).order_by(Tag.name)),
            "templates": rows(MessageTemplate.owned(company_id, MessageTemplate.id,
                                                    MessageTemplate.title)
                              .where(MessageTemplate.kind.in_((KIND_TEXT, KIND_ATTACHMENT)),
                                     MessageTemplate.active.is_(True))
                              .order_by(MessageTemplate.title)),
            "periods": rows(Period.owned(company_id, Period.id, Period.name).order_by(Period.name)),
            "connections": rows(Connection.owned(company_id, Connection.id, Connection.name)
                                .order_by(Connection.name)),
            "channels": [{"id": k, "name": str(v)} for k, v in CONNECTION_KINDS.items()],
            "integrations": [{"id": n, "name": n} for n in integrations.names(company_id)],
            "condition_types": [{"id": k, "name": str(v)}
                                for k, v in conditions.CONDITION_TYPES.items()],
            "contact_fields": [{"id": k, "name": str(v)} for k, v in conditions.field_choices(company_id)],
            "operators": [{"id": k, "name": str(v)} for k, v in conditions.OPERATORS.items()],
            "can_edit": bool(self.can_edit),
            "urls": {
                "save": self.get_url(".editor_save", id=flow.id),
                "publish": self.get_url(".editor_publish", id=flow.id),
                "simulate": self.get_url(".editor_simulate", id=flow.id),
                "list": self.get_url(".index_view"),
            },
            "variables": messages.variables_help(),
        }

    @expose("/editor/")
    def editor_view(self):
        flow = self._flow_or_404()
        return self.render("admin/flows/editor.html", flow=flow, data=self.editor_data(flow),
                           return_url=self.get_url(".index_view"))

    # -- JSON routes ---------------------------------------------------------------------
    @staticmethod
    def _json_error(message, status=400, **extra):
        response = jsonify({"error": str(message), **extra})
        response.status_code = status
        return response

    @staticmethod
    def _body() -> dict:
        """The JSON object of the request, or BadRequest: a body too large, not JSON or not
        an object is refused before anything reads it."""
        if (request.content_length or 0) > MAX_BODY:
            raise BadRequest(_("O fluxo é grande demais para ser enviado."))
        raw = request.stream.read(MAX_BODY + 1)
        if len(raw) > MAX_BODY:
            raise BadRequest(_("O fluxo é grande demais para ser enviado."))
        try:
            data = request.json_module.loads(raw.decode("utf-8"))
        except (ValueError, UnicodeDecodeError, RecursionError):
            raise BadRequest(_("Dados inválidos: o navegador não enviou um fluxo legível."))
        if not isinstance(data, dict):
            raise BadRequest(_("Dados inválidos: o navegador não enviou um fluxo legível."))
        return data

    @staticmethod
    def _graph(data: dict) -> dict:
        graph = data.get("graph")
        if not isinstance(graph, dict) or not isinstance(graph.get("nodes"), dict):
            raise BadRequest(_("Dados inválidos: o navegador não enviou um fluxo legível."))
        return graph

    def _write_refused(self):
        """A 403 (JSON) for a user without flows.edit, else None."""
        if self.allowed("edit"):
            return None
        return self._json_error(_("Você não tem permissão para alterar este fluxo."), 403)

    def _save(self, flow, graph) -> list[str]:
        """Check and save the drawing as the draft; the checker's reasons when refused."""
        from ..automation.flows import service

        reasons = service.check(flow.company_id, graph)
        if reasons:
            return [str(r) for r in reasons]
        try:
            service.save_draft(flow, graph)
        except RuleError as exc:
            db.session.rollback()
            return [str(exc)]
        audit.record(current_user, "update", flow,
                     {"draft": [None, _("%(count)d etapas", count=len(graph["nodes"]))]},
                     flow.company_id)
        return []

    @expose("/editor/save/", methods=("POST",))
    def editor_save(self):
        refused = self._write_refused()
        if refused is not None:
            return refused
        flow = self._flow_or_404()
        try:
            graph = self._graph(self._body())
        except BadRequest as exc:
            return self._json_error(exc)
        reasons = self._save(flow, graph)
        if reasons:
            return self._json_error(_("O rascunho não foi salvo."), 422, reasons=reasons)
        db.session.commit()
        return jsonify({"ok": True, "message": _("Rascunho salvo.")})

    @expose("/editor/publish/", methods=("POST",))
    def editor_publish(self):
        """Publishes what is drawn: saved as the draft first, then copied into a new
        version (refused with the checker's reasons, nothing saved)."""
        refused = self._write_refused()
        if refused is not None:
            return refused
        flow = self._flow_or_404()
        try:
            data = self._body()
            graph = self._graph(data) if "graph" in data else None
        except BadRequest as exc:
            return self._json_error(exc)
        from ..automation.flows import service

        if graph is not None:
            reasons = self._save(flow, graph)
            if reasons:
                return self._json_error(_("O fluxo não foi publicado."), 422, reasons=reasons)
        before = flow.published_version.number if flow.published_version else None
        try:
            version = service.publish(flow, current_user)
        except RuleError as exc:
            db.session.rollback()
            return self._json_error(_("O fluxo não foi publicado."), 422,
                                    reasons=[r.strip() for r in str(exc).split(";") if r.strip()])
        audit.record(current_user, "update", flow,
                     {"published_version": [before, version.number]}, flow.company_id)
        db.session.commit()
        return jsonify({"ok": True, "version": version.number,
                        "message": _("Fluxo publicado: versão %(number)d.", number=version.number)})

    @expose("/editor/simulate/", methods=("POST",))
    def editor_simulate(self):
        """One turn of the test pane: the drawing as sent (a draft, maybe unsaved), the
        opaque state of the previous turn and the text typed; the company is the user's."""
        flow = self._flow_or_404()
        try:
            data = self._body()
            graph = self._graph(data)
        except BadRequest as exc:
            return self._json_error(exc)
        text = data.get("text")
        text = "" if text is None else str(text)[:MAX_TEXT]
        state = data.get("state")
        from ..automation.flows import engine

        try:
            result = engine.simulate(current_company_id(), graph, state, text,
                                     keywords=flow.handover_keywords or "")
        except RuleError as exc:
            return self._json_error(exc, 422,
                                    reasons=[r.strip() for r in str(exc).split(";") if r.strip()])
        except (TypeError, ValueError, KeyError, AttributeError):
            # a state sent back altered: the conversation cannot go on, it may start over
            log.warning("flow simulation refused a state", exc_info=True)
            return self._json_error(_("A conversa de teste não pôde continuar. "
                                      "Clique em Reiniciar."))
        finally:
            # the test pane writes nothing, whatever the engine touched
            db.session.rollback()
        return jsonify(result)
