"""Contacts through the API (API-1): search by phone, CPF/CNPJ or e-mail in any format,
create, update, delete and tag, under the rules of the Contatos screen (services.contacts:
PAR-1, one contact per phone and per document). A token acts for the whole company: the
carteiras (WAL-1) limit users, not integrations.

Phones, documents and e-mails are normalised by the same helpers as the screen while the
request is read, so a filter `phone=(11) 98765-4321` finds the contact stored as
+5511987654321, and an invalid one is a 422 that names the field before anything is made.
"""
from __future__ import annotations

from contextlib import contextmanager

from flask_babel import gettext as _
from marshmallow import Schema, ValidationError, fields, validate
from sqlalchemy.orm import selectinload

from ...extensions import db
from ...lib.documents import normalise_document
from ...lib.phones import normalise_phone
from ...models import Contact
from ...services import RuleError
from ...services import audit as audit_rules
from ...services import contacts as contact_rules
from ..core import audit, blueprint, company_id, fetch, requires
from ..fields import ID, UtcDateTime
from ..idempotency import idempotent
from ..pagination import PageArgs, page, page_schema
from ..problems import ApiError

blp = blueprint("contatos", "/contacts",
                "Contatos (clientes) da empresa: busca por telefone, CPF/CNPJ ou e-mail, "
                "cadastro, alteração, exclusão e etiquetas.")
BLUEPRINTS = [blp]



# --- fields shared with the other routes ------------------------------------------------


class _Normalised(fields.String):
    """A text read through one of the app's normalisers (RuleError -> a field error); a
    blank one is None. Its length is checked on what was sent (a `validate` would see the
    normalised value, None for a blank)."""

    def __init__(self, max_length: int, **kwargs):
        self.max_length = max_length
        kwargs["metadata"] = {"maxLength": max_length, **kwargs.get("metadata", {})}
        super().__init__(**kwargs)

    def normalise(self, value: str):
        raise NotImplementedError

    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs)
        if len(text) > self.max_length:
            raise ValidationError(_("Texto longo demais (máximo %(n)s caracteres).",
                                    n=self.max_length))
        try:
            return self.normalise(text)
        except RuleError as exc:
            raise ValidationError(str(exc)) from exc


class Phone(_Normalised):
    def normalise(self, value):
        return normalise_phone(value)


class Document(_Normalised):
    def normalise(self, value):
        return normalise_document(value)[0]


class Email(_Normalised):
    def normalise(self, value):
        return contact_rules.normalise_email(value)


# --- schemas -------------------------------------------------------------------------------


class TagRef(Schema):
    id = fields.Integer(required=True, metadata={"example": 4})
    name = fields.String(required=True, metadata={"example": "VIP"})
    color = fields.String(required=True, metadata={"example": "#3c8dbc"})


class CompanyTags(fields.Nested):
    """The company tags of a row; a user's personal tags are theirs, never shown here."""

    def __init__(self, **kwargs):
        super().__init__(TagRef, many=True, **kwargs)

    def _serialize(self, value, attr, obj, **kwargs):
        return super()._serialize([t for t in value or () if t.owner_id is None], attr, obj,
                                  **kwargs)


class ContactOut(Schema):
    id = fields.Integer(required=True, metadata={"example": 12})
    name = fields.String(required=True, metadata={"example": "Maria Souza"})
    phone = fields.String(required=True, allow_none=True, metadata={
        "description": "Telefone no padrão internacional (E.164).", "example": "+5511987654321"})
    email = fields.String(required=True, allow_none=True,
                          metadata={"example": "maria@example.com"})
    person_type = fields.String(required=True, allow_none=True, metadata={
        "description": "PF (pessoa física) ou PJ (pessoa jurídica).", "example": "PF"})
    document = fields.String(required=True, allow_none=True, metadata={
        "description": "CPF ou CNPJ, só os dígitos (o CNPJ alfanumérico em maiúsculas).",
        "example": "52998224725"})
    notes = fields.String(required=True, allow_none=True, metadata={"example": "Prefere e-mail."})
    custom_fields = fields.Method("_custom", required=True, metadata={
        "type": "object", "additionalProperties": {"type": "string"},
        "description": "Campos personalizados, pela chave do campo.",
        "example": {"codigo_no_erp": "C-1042"}})
    owner_id = fields.Integer(required=True, allow_none=True, metadata={
        "description": "Carteira: o usuário dono do contato; null é de todos.", "example": None})
    tags = CompanyTags(required=True, metadata={"description": "Etiquetas da empresa."})
    created_at = UtcDateTime(required=True)
    updated_at = UtcDateTime(required=True)

    def _custom(self, contact):
        return dict(contact.custom_fields or {})


CONTACT_EXAMPLE = {
    "id": 12, "name": "Maria Souza", "phone": "+5511987654321", "email": "maria@example.com",
    "person_type": "PF", "document": "52998224725", "notes": None,
    "custom_fields": {"codigo_no_erp": "C-1042"}, "owner_id": None,
    "tags": [{"id": 4, "name": "VIP", "color": "#3c8dbc"}],
    "created_at": "2026-12-01T12:00:00+00:00", "updated_at": "2026-12-01T12:00:00+00:00",
}


class ContactFilters(PageArgs):
    phone = Phone(40, metadata={
        "description": "Telefone em qualquer formato: (11) 98765-4321, 11987654321, "
                       "+55 11 98765-4321.", "example": "(11) 98765-4321"})
    document = Document(32, metadata={
        "description": "CPF ou CNPJ, com ou sem pontuação.", "example": "529.982.247-25"})
    email = Email(254, metadata={"example": "maria@example.com"})
    q = fields.String(validate=validate.Length(max=100), metadata={
        "description": "Parte do nome.", "example": "maria"})
    tag_id = fields.Integer(validate=ID, metadata={"description": "Só os contatos com esta "
                                                                  "etiqueta.", "example": 4})


class ContactIn(Schema):
    name = fields.String(required=True, validate=validate.Length(1, 120),
                         metadata={"example": "Maria Souza"})
    phone = Phone(40, allow_none=True, metadata={
        "description": "Com DDD, em qualquer formato; guardado no padrão internacional.",
        "example": "(11) 98765-4321"})
    email = Email(254, allow_none=True,
                  metadata={"example": "maria@example.com"})
    document = Document(32, allow_none=True, metadata={
        "description": "CPF (pessoa física) ou CNPJ (jurídica), com ou sem pontuação.",
        "example": "529.982.247-25"})
    person_type = fields.String(allow_none=True, validate=validate.OneOf(["PF", "PJ"]), metadata={
        "description": "PF ou PJ; sem ele, vem do documento.", "example": "PF"})
    notes = fields.String(allow_none=True, validate=validate.Length(max=5000),
                          metadata={"example": "Prefere e-mail."})
    custom_fields = fields.Dict(
        keys=fields.String(validate=validate.Length(1, 60)),
        values=fields.String(allow_none=True, validate=validate.Length(max=500)),
        validate=validate.Length(max=50), metadata={
            "description": "Campos personalizados ativos, pela chave (Campos de contato); "
                           "vazio ou null apaga o valor.",
            "example": {"codigo_no_erp": "C-1042"}})
    owner_id = fields.Integer(allow_none=True, validate=ID, metadata={
        "description": "Carteira: id do usuário dono do contato.", "example": None})
    tag_ids = fields.List(fields.Integer(validate=ID), validate=validate.Length(max=100),
                          metadata={"description": "Etiquetas da empresa.", "example": [4]})


class ContactPatch(ContactIn):
    name = fields.String(validate=validate.Length(1, 120), metadata={"example": "Maria S. Souza"})


class TagsIn(Schema):
    tag_ids = fields.List(fields.Integer(validate=ID), required=True,
                          validate=validate.Length(max=100), metadata={
                              "description": "As etiquetas da empresa que o contato passa a "
                                             "ter (substituem as atuais).", "example": [4, 7]})


ContactPage = page_schema(ContactOut, "ContactPage")


# --- helpers -------------------------------------------------------------------------------


@contextmanager
def _field(name: str):
    """A rule refusing one field of the body: a 422 that names the field."""
    try:
        yield
    except RuleError as exc:
        where = _("corpo")
        raise ApiError(422, _("Dados inválidos: %(lines)s", lines=f"{where}.{name}: {exc}"),
                       {where: {name: [str(exc)]}}) from exc


def _save(contact: Contact, data: dict, created: bool) -> Contact:
    """`data` applied and stored through the screen's rules; a phone or document another
    contact has is a 409 naming that contact's id (an integration can then update it)."""
    # the rules' queries must not flush the half-applied row: a duplicate phone would hit
    # the unique index before the rule could name the contact that has it
    with db.session.no_autoflush:
        for name in ("name", "phone", "email", "document", "person_type", "notes", "owner_id"):
            if name in data:
                setattr(contact, name, data[name])
        if data.get("custom_fields"):
            with _field("custom_fields"):
                contact_rules.set_custom_fields(contact, data["custom_fields"])
        if "tag_ids" in data:
            with _field("tag_ids"):
                contact_rules.set_tags(contact, data["tag_ids"])
        changes = audit_rules.pending_changes(contact, created)  # PLT-7, as the screen does
        try:
            saved = contact_rules.save(contact, created=created)
            audit("create" if created else "update", saved, changes)
            return saved
        except contact_rules.DuplicateContact as exc:
            detail = _("%(why)s Contato existente: id %(id)s.", why=str(exc), id=exc.contact_id)
            raise ApiError(409, detail, {_("corpo"): {exc.field: [detail]}}) from exc


# --- routes --------------------------------------------------------------------------------


@blp.route("/", methods=["GET"], endpoint="list")
@requires("api:contacts.read")
@blp.arguments(ContactFilters, location="query")
@blp.response(200, ContactPage, example={"data": [CONTACT_EXAMPLE], "next_cursor": None})
def contact_list(args):
    """Lista e busca contatos.

    Os filtros se combinam: `phone` (qualquer formato), `document` (CPF/CNPJ com ou sem
    pontuação), `email`, `q` (parte do nome) e `tag_id`. Telefone, documento ou e-mail
    inválidos: 422."""
    q = contact_rules.search(company_id(), phone=args.get("phone"),
                             document=args.get("document"), email=args.get("email"),
                             name=args.get("q"), tag_id=args.get("tag_id"))
    return page(q.options(selectinload(Contact.tags)), Contact.id, args)


@blp.route("/<int:contact_id>", methods=["GET"], endpoint="get")
@requires("api:contacts.read")
@blp.response(200, ContactOut, example=CONTACT_EXAMPLE)
def contact_get(contact_id):
    """Consulta um contato pelo id."""
    return fetch(Contact, contact_id)


@blp.route("/", methods=["POST"], endpoint="create")
@idempotent
@requires("api:contacts.write")
@blp.arguments(ContactIn, example={"name": "Maria Souza", "phone": "(11) 98765-4321",
                                   "email": "maria@example.com", "document": "529.982.247-25",
                                   "tag_ids": [4]})
@blp.response(201, ContactOut, example=CONTACT_EXAMPLE)
@blp.alt_response(409, response="CONFLICT")
def contact_create(data):
    """Cadastra um contato.

    As regras são as da tela Contatos: um contato por telefone e por CPF/CNPJ na empresa
    (409 com o id do existente), CPF obrigatório para pessoa física quando os Parâmetros
    pedem. Envie `Idempotency-Key` para repetir com segurança."""
    return _save(Contact(company_id=company_id()), data, created=True)


@blp.route("/<int:contact_id>", methods=["PATCH"], endpoint="update")
@requires("api:contacts.write")
@blp.arguments(ContactPatch, example={"email": "maria.souza@example.com", "phone": None})
@blp.response(200, ContactOut, example=CONTACT_EXAMPLE)
@blp.alt_response(409, response="CONFLICT")
def contact_update(data, contact_id):
    """Altera um contato: só os campos enviados mudam; null apaga o valor.

    `custom_fields` altera só as chaves enviadas; `tag_ids` substitui as etiquetas."""
    return _save(fetch(Contact, contact_id), data, created=False)


@blp.route("/<int:contact_id>", methods=["DELETE"], endpoint="delete")
@requires("api:contacts.write")
@blp.response(204)
def contact_delete(contact_id):
    """Exclui um contato.

    Como na tela, um contato com atendimentos não pode ser excluído (422): o histórico das
    conversas se perderia."""
    contact = fetch(Contact, contact_id)
    audit("delete", contact)  # a refusal below rolls the entry back with the rest
    contact_rules.delete(contact)


@blp.route("/<int:contact_id>/tags", methods=["PUT"], endpoint="tags")
@requires("api:contacts.write")
@blp.arguments(TagsIn, example={"tag_ids": [4, 7]})
@blp.response(200, ContactOut, example=CONTACT_EXAMPLE)
def contact_tags(data, contact_id):
    """Define as etiquetas do contato (substitui as atuais; lista vazia tira todas)."""
    return _save(fetch(Contact, contact_id), data, created=False)
