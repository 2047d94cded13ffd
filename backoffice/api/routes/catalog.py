"""Read-only lists of the company's registry (API-1): departments, users, tags, reasons
and connections, for an integration to find the ids the other routes take."""
from __future__ import annotations

from marshmallow import Schema, fields

from ...models import Connection, Department, Reason, Tag, User
from ..core import blueprint, fetch, requires, scoped
from ..pagination import PageArgs, page, page_schema


class DepartmentOut(Schema):
    id = fields.Integer(required=True, metadata={"example": 3})
    name = fields.String(required=True, metadata={"example": "Vendas"})
    description = fields.String(allow_none=True, metadata={"example": "Orçamentos e pedidos"})
    active = fields.Boolean(required=True)
    receives_tickets = fields.Boolean(required=True)


class UserOut(Schema):
    id = fields.Integer(required=True, metadata={"example": 7})
    name = fields.String(required=True, metadata={"example": "Bruno Lima"})
    email = fields.String(required=True, metadata={"example": "bruno@empresa.com.br"})
    active = fields.Boolean(required=True)


class TagOut(Schema):
    id = fields.Integer(required=True, metadata={"example": 4})
    name = fields.String(required=True, metadata={"example": "VIP"})
    color = fields.String(required=True, metadata={"example": "#3c8dbc"})


class ReasonOut(Schema):
    id = fields.Integer(required=True, metadata={"example": 2})
    name = fields.String(required=True, metadata={"example": "Dúvida resolvida"})
    description = fields.String(allow_none=True)
    active = fields.Boolean(required=True)


class ConnectionOut(Schema):
    id = fields.Integer(required=True, metadata={"example": 3})
    name = fields.String(required=True, metadata={"example": "WhatsApp Vendas"})
    kind = fields.String(required=True, metadata={"example": "whatsapp"})
    active = fields.Boolean(required=True)


departments = blueprint("departamentos", "/departments", "Departamentos da empresa.")
users = blueprint("usuarios", "/users", "Usuários (atendentes) da empresa.")
tags = blueprint("etiquetas", "/tags", "Etiquetas da empresa (as pessoais de cada usuário não entram).")
reasons = blueprint("motivos", "/reasons", "Motivos de atendimento.")
connections = blueprint("conexoes", "/connections", "Conexões (canais) da empresa.")
BLUEPRINTS = [departments, users, tags, reasons, connections]


def _registry(blp, model, out, page_name: str, plural: str, singular: str, example: dict, *,
              shared=None):
    """GET / (paginated, newest first) and GET /<id> of one registry of the company.
    `shared`: the condition a row must meet besides being the company's."""

    conditions = () if shared is None else (shared,)

    def listing(args):
        return page(scoped(model, *conditions), model.id, args)

    def one(item_id):
        return fetch(model, item_id, *conditions)

    listing.__doc__ = f"Lista {plural}."
    one.__doc__ = f"Consulta {singular} pelo id."
    listed = {"data": [example], "next_cursor": None}
    listing = requires("api:catalog.read")(blp.arguments(PageArgs, location="query")(
        blp.response(200, page_schema(out, page_name), example=listed)(listing)))
    one = requires("api:catalog.read")(blp.response(200, out, example=example)(one))
    blp.route("/", methods=["GET"], endpoint="list")(listing)
    blp.route("/<int:item_id>", methods=["GET"], endpoint="get")(one)


_registry(departments, Department, DepartmentOut, "DepartmentPage", "os departamentos",
          "um departamento", {"id": 3, "name": "Vendas", "description": "Orçamentos e pedidos",
                              "active": True, "receives_tickets": True})
_registry(users, User, UserOut, "UserPage", "os usuários", "um usuário",
          {"id": 7, "name": "Bruno Lima", "email": "bruno@empresa.com.br", "active": True})
_registry(tags, Tag, TagOut, "TagPage", "as etiquetas da empresa", "uma etiqueta",
          {"id": 4, "name": "VIP", "color": "#3c8dbc"}, shared=Tag.owner_id.is_(None))
_registry(reasons, Reason, ReasonOut, "ReasonPage", "os motivos de atendimento", "um motivo",
          {"id": 2, "name": "Dúvida resolvida", "description": None, "active": True})
_registry(connections, Connection, ConnectionOut, "ConnectionPage", "as conexões", "uma conexão",
          {"id": 3, "name": "WhatsApp Vendas", "kind": "whatsapp", "active": True})
