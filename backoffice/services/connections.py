"""Rules for Conexões (CHN-1) and the plan's channel limit (PLT-5).

A connection is checked as a whole (`check_connection`) by the admin screen and by any
other writer (seed, API), so the same rules hold whoever saves it: the fields every kind
has here, the kind's own ones (widget, endpoint URL) by its adapter's validate_config
(backoffice.channels). The plan limit counts
*active* connections: it is checked when a connection is created active or an inactive
one is switched on, never when an active one is merely edited (a company whose plan was
downgraded can still fix a typo).

A connection's kind is fixed once it is saved (SEC-2): turning a webchat into an HTTP API
connection would make the server post, under the old name and tickets, somewhere new.

The provider kinds (WhatsApp, Telegram, Messenger, Instagram) keep their fields as their
adapter lists them (`provider_fields`): public ones in `settings`, secret ones in the
encrypted `credentials`; `apply_fields` writes typed values the same way for the
Conexões screen and `flask connections create`.
"""
from __future__ import annotations

from markupsafe import escape
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, inspect, select

from ..channels import ADAPTERS, adapter_for
from ..extensions import db
from ..models import Company, Connection
from ..models.channels import CONNECTION_KINDS, HOOK_KINDS, KIND_WEBCHAT, new_public_key
from . import RuleError
from .portal.channel import find_connection as find_portal_connection

KIND_FIXED = _l("O tipo da conexão não pode ser mudado depois de criada; crie uma nova "
                "conexão para o outro tipo.")


def _stored_kind(conn: Connection) -> str | None:
    """The kind a saved row had before this change; None for a new row (SEC-2)."""
    state = inspect(conn)
    if state.transient or state.pending:
        return None
    history = state.attrs.kind.history
    if history.deleted:
        return history.deleted[0]
    if history.added:  # set before the old value was loaded: ask the database
        with db.session.no_autoflush:
            return db.session.scalar(select(Connection.kind).where(Connection.id == conn.id))
    return conn.kind


def _name_taken(company_id: int, name: str, exclude_id: int | None) -> bool:
    """Case-insensitive in Python: SQLite's lower() folds ASCII only."""
    q = Connection.owned(company_id, Connection.name)
    if exclude_id is not None:
        q = q.where(Connection.id != exclude_id)
    wanted = name.casefold()
    return any((n or "").strip().casefold() == wanted for n in db.session.scalars(q))


def becoming_active(conn: Connection) -> bool:
    """True when saving `conn` adds one to the company's active connections: a new
    active row, or a stored inactive row switched on (read before the flush)."""
    if not conn.active:
        return False
    state = inspect(conn)
    if state.transient or state.pending or conn.id is None:
        return True
    before = state.attrs.active.history.deleted
    return bool(before) and not before[0]


def active_count(company_id: int, exclude_id: int | None = None) -> int:
    q = Connection.owned(company_id, func.count(Connection.id)).where(Connection.active.is_(True))
    if exclude_id is not None:
        q = q.where(Connection.id != exclude_id)
    return db.session.scalar(q) or 0


def check_channel_limit(company_id: int, adding: int = 1) -> None:
    """RuleError when `adding` more active connections would pass the plan's
    max_channels. No plan (or no limit on it) means no limit.

    The company row is locked (PostgreSQL) so two admins switching connections on at
    the same time cannot both squeeze under the limit."""
    company = db.session.scalar(
        select(Company).where(Company.id == company_id).with_for_update())
    plan = company.plan if company is not None else None
    if plan is None or not plan.max_channels or adding <= 0:
        return
    used = active_count(company_id)
    if used + adding > plan.max_channels:
        raise RuleError(_(
            "O plano %(plan)s permite no máximo %(max)d conexões ativas. A empresa já tem "
            "%(used)d; desative uma conexão ou mude de plano.",
            plan=plan.name, max=plan.max_channels, used=used))


def check_portal_switch_on(settings) -> None:
    """PLT-5: the Fale Conosco portal is one more channel (its connection is made when it is
    first switched on, services.portal.channel) and counts in the plan's limit like a
    website chat. RuleError when saving `settings` (PortalSettings) would switch it on past
    the limit; a company whose portal already has its connection is never refused for
    saving its settings."""
    if settings.enabled and find_portal_connection(settings.company_id) is None:
        check_channel_limit(settings.company_id)


def check_connection(conn: Connection, exclude_id: int | None = None) -> Connection:
    """Tidy and check a connection before it is saved; RuleError with the reason.

    `exclude_id` is the row's own id when editing (for the unique name). Also enforces
    the plan limit when the save switches the connection on."""
    stored_kind = _stored_kind(conn)  # first: the queries below autoflush the change
    if stored_kind is not None and conn.kind != stored_kind:
        raise RuleError(KIND_FIXED)
    company_id = conn.company_id
    conn.name = (conn.name or "").strip()
    if not conn.name:
        raise RuleError(_l("Informe o nome da conexão."))
    if len(conn.name) > 80:
        raise RuleError(_l("O nome da conexão pode ter no máximo 80 caracteres."))
    if _name_taken(company_id, conn.name, exclude_id):
        raise RuleError(_l("Já existe uma conexão com este nome."))
    if conn.active is None:  # the column's default, before the insert sets it
        conn.active = True
    conn.kind = conn.kind or KIND_WEBCHAT
    if conn.kind not in CONNECTION_KINDS:
        raise RuleError(_l("Tipo de conexão inválido."))

    # the kind's own fields (widget, endpoint...): its adapter knows them
    adapter_for(conn).validate_config(conn)

    if not conn.public_key:
        conn.public_key = new_public_key()
    conn.settings = conn.settings or {}
    if becoming_active(conn):
        check_channel_limit(company_id, adding=1)
    return conn


def regenerate_key(conn: Connection) -> str:
    """A new public key: the widgets embedded with the old one stop working."""
    conn.public_key = new_public_key()
    return conn.public_key


def embed_snippet(connection: Connection, base_url: str, script_url: str | None = None) -> str:
    """The tag a site pastes to show the webchat widget of `connection`:
    `<script src="{base_url}/widget.js" data-key="{key}" async></script>`
    (`script_url`, when given, is the full address of the script instead)."""
    src = script_url or f"{(base_url or '').rstrip('/')}/widget.js"
    return '<script src="{}" data-key="{}" async></script>'.format(
        escape(src), escape(connection.public_key or ""))


def is_webchat(connection: Connection) -> bool:
    return connection.kind == KIND_WEBCHAT


# -- provider kinds --------------------------------------------------------------------

def provider_fields(kind: str) -> tuple:
    """The settings a provider kind asks for (channels.provider.Field), in form order;
    () for the webchat and the HTTP API, whose fields are columns of their own."""
    if kind not in HOOK_KINDS:
        return ()
    return tuple(getattr(ADAPTERS.get(kind), "fields", ()) or ())


def apply_fields(conn: Connection, values: dict) -> None:
    """Write typed values of the connection's provider fields: a public one replaces the
    setting (blank clears it), a secret one replaces the stored secret only when typed,
    so a blank keeps it (SEC-8: the form never shows it back). RuleError for a name the
    kind does not have."""
    fields = {f.name: f for f in provider_fields(conn.kind)}
    unknown = sorted(set(values) - set(fields))
    if unknown:
        raise RuleError(_("Campo desconhecido para %(kind)s: %(names)s. Campos aceitos: "
                          "%(known)s.", kind=conn.kind_label, names=", ".join(unknown),
                          known=", ".join(fields) or "-"))
    for name, value in values.items():
        value = (value or "").strip()
        if fields[name].secret:
            if value:
                conn.set_secret(name, value)
        else:
            conn.set_setting(name, value or None)


SECRET_COLUMNS = ("endpoint_secret", "credentials")


def mask_secrets(changes: dict) -> dict:
    """An audit entry's changes with the secrets as "***" (SEC-1): that they changed is
    logged, never what they are."""
    for key in SECRET_COLUMNS:
        if key in changes:
            changes[key] = [None if v is None else "***" for v in changes[key]]
    return changes


def webhook_path(conn: Connection) -> str | None:
    """`/hooks/<kind>/<public key>`: where the provider posts (channels/hooks.py)."""
    if conn.kind not in HOOK_KINDS or not conn.public_key:
        return None
    return f"/hooks/{conn.kind}/{conn.public_key}"


def webhook_url(conn: Connection, base_url: str) -> str | None:
    """The webhook's full address on the site at `base_url` (the CLI's --base-url; the
    screens build it from the request instead)."""
    found = webhook_path(conn)
    return f"{(base_url or '').rstrip('/')}{found}" if found else None
