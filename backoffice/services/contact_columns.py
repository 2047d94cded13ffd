"""The contact register's built-in columns as spreadsheets name them (IMP-1, EXP-1): the
import's template and header aliases, the export's columns, and the names a custom
contact field may not take. Apart from the importer so the contacts rules can read them
without importing the importer.
"""
from __future__ import annotations

from dataclasses import dataclass

from flask_babel import lazy_gettext as _l


@dataclass(frozen=True)
class Field:
    key: str
    label: object
    aliases: tuple[str, ...]
    required: bool = False
    example: str = ""


FIELDS: tuple[Field, ...] = (
    Field("name", _l("Nome"), ("nome", "name", "nome_completo", "cliente", "nome_do_cliente",
                               "razao_social", "contato", "nome_do_contato"),
          required=True, example="Maria da Silva"),
    Field("phone", _l("Telefone"), ("telefone", "celular", "fone", "phone", "whatsapp", "tel",
                                    "telefone_celular", "numero", "numero_de_telefone",
                                    "telefone_whatsapp", "cel"),
          required=True, example="(11) 98765-4321"),
    Field("email", _l("E-mail"), ("e_mail", "email", "mail", "endereco_de_e_mail"),
          example="maria@exemplo.com.br"),
    Field("person_type", _l("Tipo de pessoa"), ("tipo_de_pessoa", "tipo_pessoa", "tipo",
                                                "pessoa", "pf_pj"), example="PF"),
    Field("document", _l("CPF/CNPJ"), ("cpf_cnpj", "cpf", "cnpj", "documento", "cpf_ou_cnpj",
                                       "cnpj_cpf", "cnpj_ou_cpf"), example="529.982.247-25"),
    Field("tags", _l("Etiquetas"), ("etiquetas", "etiqueta", "tags", "tag"), example="VIP, Atacado"),
    Field("owner", _l("Carteira"), ("carteira", "responsavel", "atendente", "dono",
                                    "e_mail_do_responsavel", "carteira_e_mail"), example=""),
    Field("notes", _l("Observações"), ("observacoes", "observacao", "obs", "notas", "notes",
                                       "anotacoes"), example="Cliente desde 2019"),
)
# POR-1: optional columns of the import only (not in the template nor the export): the
# row's contact becomes a representative of that portal client (services/portal/importing.py)
PORTAL_FIELDS: tuple[Field, ...] = (
    Field("portal_organization", _l("Cliente do portal"),
          ("cliente_do_portal", "organizacao", "empresa_cliente", "cliente_portal")),
    Field("portal_cnpj", _l("CNPJ do cliente do portal"),
          ("cnpj_do_cliente_do_portal", "cnpj_da_organizacao", "cnpj_do_cliente",
           "cnpj_cliente_portal")),
)
BY_ALIAS = {alias: f for f in (*FIELDS, *PORTAL_FIELDS) for alias in (f.key, *f.aliases)}
FIELD_KEYS = frozenset(BY_ALIAS)
