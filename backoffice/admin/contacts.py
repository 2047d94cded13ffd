"""Contatos (clientes) and Campos de contato: the contact register, WAL-1 and PAR-1."""
from __future__ import annotations

from flask_admin.contrib.sqla.filters import BaseSQLAFilter
from flask_admin.helpers import get_form_data
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from markupsafe import Markup
from sqlalchemy import select
from wtforms import SelectField, StringField
from wtforms.validators import Length, Optional

from .. import events
from ..extensions import db
from ..lib import after_commit
from ..models import Contact, Tag, User, contact_tag
from ..services import contacts
from ..lib.documents import format_document
from ..lib.phones import format_phone
from ..tenancy import current_company_id
from .base import TenantModelView, VisibleRowsMixin
from .catalog import tag_badge
from .filters import PerRequestFilterOptions, TenantOptionsFilter
from .portal_accounts import PortalInviteMixin


class CustomValueField(StringField):
    """A custom field's value: the view stores it in contact.custom_fields."""

    def populate_obj(self, obj, name):
        pass


class ContactTagFilter(TenantOptionsFilter):
    def __init__(self, name):
        super().__init__(Contact.id, name)

    def tenant_options(self, company_id):
        rows = db.session.execute(select(Tag.id, Tag.name).where(
            Tag.company_id == company_id, Tag.owner_id.is_(None)).order_by(Tag.name))
        return [(str(pk), name) for pk, name in rows]

    def apply(self, query, value, alias=None):
        return query.filter(Contact.id.in_(
            select(contact_tag.c.contact_id).join(Tag, Tag.id == contact_tag.c.tag_id).where(
                contact_tag.c.tag_id == value, Tag.company_id == current_company_id())))


class ContactOwnerFilter(TenantOptionsFilter):
    def __init__(self, name):
        super().__init__(Contact.owner_id, name)

    def tenant_options(self, company_id):
        rows = db.session.execute(select(User.id, User.name).where(
            User.company_id == company_id).order_by(User.name))
        return [(str(pk), name) for pk, name in rows]

    def apply(self, query, value, alias=None):
        return query.filter(Contact.owner_id == value)


class PersonTypeFilter(BaseSQLAFilter):
    def __init__(self, name):
        super().__init__(Contact.person_type, name, options=[
            (k, v) for k, v in contacts.PERSON_TYPES.items()])

    def apply(self, query, value, alias=None):
        return query.filter(Contact.person_type == value)

    def operation(self):
        return _l("é")


def _tags(view, context, model, name):
    return Markup(" ").join(tag_badge(t) for t in model.tags)


def _channels(view, context, model, name):
    # The connection only: an address may be a secret (the webchat visitor's token).
    return ", ".join(sorted({a.connection.name for a in model.addresses}))


def _person_type(model) -> str:
    return str(contacts.PERSON_TYPES.get(model.person_type, "")) if model.person_type else ""


def _custom(view, context, model, name):
    values = model.custom_fields or {}
    labels = {f.key: f.label for f in contacts.fields_of(model.company_id, active_only=False)}
    return "; ".join(f"{labels.get(k, k)}: {v}" for k, v in values.items() if v)


class ContactView(PortalInviteMixin, PerRequestFilterOptions, VisibleRowsMixin, TenantModelView):
    """Contacts of the company; with carteiras enabled, a user without contacts.supervise
    sees only the unowned contacts and their own (list, count, export, edit, delete)."""

    area = "contacts"
    can_view_details = True
    column_list = ["name", "phone", "email", "person_type", "document", "tags", "owner",
                   "created_at"]
    column_details_list = ["name", "phone", "email", "person_type", "document", "tags", "owner",
                           "custom_fields", "addresses", "notes", "created_at", "updated_at"]
    column_export_list = ["name", "phone", "email", "person_type", "document", "tags", "owner",
                          "custom_fields", "notes", "created_at"]
    column_searchable_list = ["name", "phone", "email", "document"]
    column_sortable_list = ["name", "created_at"]
    column_default_sort = "name"
    column_filters = [ContactTagFilter(_l("Etiqueta")), ContactOwnerFilter(_l("Carteira")),
                      PersonTypeFilter(_l("Tipo de pessoa"))]
    column_labels = {
        "name": _l("Nome"), "phone": _l("Telefone"), "email": _l("E-mail"),
        "person_type": _l("Tipo de pessoa"), "document": _l("CPF/CNPJ"), "tags": _l("Etiquetas"),
        "owner": _l("Carteira"), "custom_fields": _l("Campos personalizados"),
        "addresses": _l("Canais"), "notes": _l("Observações"), "created_at": _l("Criado em"),
        "updated_at": _l("Alterado em"),
    }
    column_descriptions = {
        "owner": _l("Carteira: com carteiras ativadas em Parâmetros, só este usuário (e quem "
                    "supervisiona contatos) vê o contato."),
    }
    column_formatters = {
        "phone": lambda v, c, m, p: format_phone(m.phone),
        "document": lambda v, c, m, p: format_document(m.document),
        "person_type": lambda v, c, m, p: _person_type(m),
        "tags": _tags,
        "addresses": _channels,
        "custom_fields": _custom,
    }
    column_formatters_export = {
        "phone": lambda v, c, m, p: format_phone(m.phone),
        "document": lambda v, c, m, p: format_document(m.document),
        "person_type": lambda v, c, m, p: _person_type(m),
        "tags": lambda v, c, m, p: ", ".join(t.name for t in m.tags),
        "owner": lambda v, c, m, p: m.owner.email if m.owner else "",
        "custom_fields": _custom,
    }
    form_columns = ["name", "phone", "email", "person_type", "document", "tags", "owner", "notes"]
    form_overrides = {"person_type": SelectField, "document": StringField}
    form_args = {
        "name": {"validators": [Length(max=120)]},
        "phone": {"description": _l("Com DDD, em qualquer formato: (11) 98765-4321. É guardado "
                                    "no padrão internacional (+55...).")},
        "person_type": {"choices": [("", "—"), *contacts.PERSON_TYPES.items()],
                        "validators": [Optional()]},
        "document": {"validators": [Length(max=32)],
                     "description": _l("CPF para pessoa física, CNPJ para jurídica.")},
        "tags": {"query_factory": lambda: db.session.scalars(select(Tag).where(
            Tag.company_id == current_company_id(), Tag.owner_id.is_(None)).order_by(Tag.name))},
        "owner": {"query_factory": lambda: db.session.scalars(select(User).where(
            User.company_id == current_company_id(), User.active.is_(True)).order_by(User.name))},
    }

    # -- carteira (WAL-1) --------------------------------------------------------------
    def _visible(self, query):
        return query.filter(contacts.contact_filter(current_user))

    # -- custom fields: one text input per active field of the company ----------------
    def _fields(self):
        return contacts.fields_of(current_company_id())

    def _with_custom(self, form_class):
        fields = self._fields()
        if not fields:
            return form_class
        extra = {f"cf_{f.id}": CustomValueField(f.label, validators=[Optional(), Length(max=500)])
                 for f in fields}
        return type("ContactForm", (form_class,), extra)

    def on_form_prefill(self, form, id):
        contact = self.get_one(id)
        if contact is None:
            return
        form.document.data = format_document(contact.document)
        form.phone.data = format_phone(contact.phone)
        for f in self._fields():
            field = getattr(form, f"cf_{f.id}", None)
            if field is not None:
                field.data = (contact.custom_fields or {}).get(f.key, "")

    def _restrict_owner(self, form) -> None:
        # Without supervise, a user under carteiras cannot hand a contact to someone
        # else (it would vanish from their own list): the field is not offered.
        if hasattr(form, "owner") and contacts.wallets_apply(current_user):
            del form.owner

    def create_form(self, obj=None):
        form = self._with_custom(self._create_form_class)(get_form_data(), obj=obj)
        self._restrict_owner(form)
        return form

    def edit_form(self, obj=None):
        form = self._with_custom(self._edit_form_class)(get_form_data(), obj=obj)
        self._restrict_owner(form)
        return form

    # -- rules -------------------------------------------------------------------------
    def validate_change(self, form, model, is_created):
        if is_created:
            model.company_id = current_company_id()
            if contacts.wallets_apply(current_user):
                model.owner_id = current_user.id
        values = dict(model.custom_fields or {})
        for f in self._fields():
            field = getattr(form, f"cf_{f.id}", None)
            if field is None:
                continue
            value = (field.data or "").strip()
            if value:
                values[f.key] = value
            else:
                values.pop(f.key, None)
        model.custom_fields = values or None
        model.person_type = model.person_type or None
        limited = contacts.wallets_apply(current_user)
        contacts.check_manual(model, exclude_id=None if is_created else model.id,
                              viewer_id=current_user.id if limited else None)

    def validate_delete(self, model):
        contacts.check_delete(model)

    # -- events (WHK-1): webhooks hear of the screen's changes; not of the bulk import ----
    def on_model_change(self, form, model, is_created):
        super().on_model_change(form, model, is_created)
        events.emit("contact.created" if is_created else "contact.updated", contact=model)

    def after_model_change(self, form, model, is_created):
        super().after_model_change(form, model, is_created)
        after_commit.commit()  # Flask-Admin committed: the deliveries' jobs are enqueued now

    def on_model_delete(self, model):
        super().on_model_delete(model)
        events.emit("contact.deleted", contact=model)  # built now, while the row exists

    def after_model_delete(self, model):
        super().after_model_delete(model)
        after_commit.commit()


class ContactFieldView(TenantModelView):
    """Campos personalizados dos contatos; the import maps a column with the same name."""

    area = "contact_fields"
    column_list = ["label", "key", "order", "active"]
    column_sortable_list = ["label", "order"]
    column_default_sort = "order"
    column_labels = {"label": _l("Nome"), "key": _l("Coluna na importação"), "order": _l("Ordem"),
                     "active": _l("Ativo"), "created_at": _l("Criado em")}
    column_descriptions = {
        "key": _l("Uma coluna da planilha com este nome (sem diferença de maiúsculas ou "
                  "acentos) é importada para o campo."),
    }
    form_columns = ["label", "order", "active"]
    form_args = {"label": {"validators": [Length(max=60)]}, "active": {"default": True},
                 "order": {"default": 0}}

    def validate_change(self, form, model, is_created):
        if is_created:
            model.company_id = current_company_id()
        contacts.check_field(model, exclude_id=None if is_created else model.id)
