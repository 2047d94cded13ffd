"""`flask connections create|list` and `flask channels simulate`: set up a provider
connection (WhatsApp, Telegram, Messenger, Instagram) from a shell with the Conexões
screen's rules, and post a provider's webhook to a running Atende as if the provider had
sent it (signed with the connection's stored secret), to try the inbox with no provider
account and no internet."""
from __future__ import annotations

import json
import urllib.error
import urllib.request

import click
from flask.cli import AppGroup
from sqlalchemy import select

from ..channels import adapter_for
from ..extensions import db
from ..lib import after_commit
from ..models import Connection
from ..models.channels import HOOK_KINDS
from ..services import RuleError, audit
from ..services import connections as rules
from ..tenancy import acting_for
from .common import user_by_email

DEFAULT_BASE_URL = "http://127.0.0.1:5000"
STATUSES = ("sent", "delivered", "read", "failed")

connections_cli = AppGroup("connections", help="Conexões (canais) das empresas.")
channels_cli = AppGroup("channels", help="Canais: ferramentas do operador.")


def _settings(pairs: tuple[str, ...]) -> dict[str, str]:
    found = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            raise click.ClickException(f"Use --setting NOME=VALOR (recebido: {pair!r}).")
        found[name.strip()] = value
    return found


@connections_cli.command("create")
@click.argument("kind", type=click.Choice(HOOK_KINDS))
@click.option("--user", "email", required=True,
              help="E-mail de quem cria: a conexão é da empresa dele, e ele precisa poder "
                   "criar conexões.")
@click.option("--name", required=True, help="Nome da conexão, como a equipe a reconhece.")
@click.option("--setting", "pairs", multiple=True, metavar="NOME=VALOR",
              help="Um campo do tipo (repita a opção); os secretos são guardados "
                   "criptografados.")
@click.option("--inactive", is_flag=True, help="Cria desativada (não conta no plano).")
@click.option("--base-url", default=DEFAULT_BASE_URL, show_default=True,
              help="Endereço público do Atende, para montar a URL do webhook.")
def connections_create(kind, email, name, pairs, inactive, base_url) -> None:
    """Cria uma conexão de provedor com as regras da tela Conexões."""
    user = user_by_email(email)
    with acting_for(user.company_id):
        if not user.can("connections", "create"):
            raise click.ClickException(
                f"{user.email} não tem permissão para criar conexões (Conexões: Criar).")
        conn = Connection(company_id=user.company_id, name=name, kind=kind,
                          active=not inactive)
        try:
            rules.apply_fields(conn, _settings(pairs))
            with db.session.no_autoflush:
                rules.check_connection(conn)
                changes = rules.mask_secrets(audit.pending_changes(conn, True))
            db.session.add(conn)
            db.session.flush()
        except RuleError as exc:
            db.session.rollback()
            raise click.ClickException(str(exc))
        audit.record(user, "create", conn, changes, user.company_id)
        after_commit.commit()
        click.echo(f"Conexão #{conn.id} criada: {conn.name} ({conn.kind_label}).")
        click.echo(f"Chave pública: {conn.public_key}")
        click.echo(f"URL do webhook: {rules.webhook_url(conn, base_url)}")
        missing = [str(f.label) for f in rules.provider_fields(kind)
                   if not f.required and not (conn.secret(f.name) if f.secret
                                              else conn.setting(f.name))]
        if missing:
            click.echo("Campos opcionais em branco: " + ", ".join(missing))


@connections_cli.command("list")
@click.option("--kind", type=click.Choice(HOOK_KINDS), help="Só deste tipo.")
def connections_list(kind) -> None:
    """Lista as conexões de provedor de todas as empresas (id, tipo, nome, chave)."""
    # No acting_for: the operator's view spans companies; nothing is written.
    query = select(Connection).where(Connection.kind.in_(HOOK_KINDS)).order_by(Connection.id)
    if kind:
        query = query.where(Connection.kind == kind)
    for conn in db.session.scalars(query):
        state = "ativa" if conn.active else "inativa"
        click.echo(f"{conn.id}\t{conn.kind}\t{state}\tempresa {conn.company_id}\t"
                   f"{conn.public_key}\t{conn.name}")


@channels_cli.command("simulate")
@click.argument("kind", type=click.Choice(HOOK_KINDS))
@click.option("--connection", "connection_id", type=int, required=True,
              help="Número da conexão (veja `flask connections list`).")
@click.option("--from", "address", required=True,
              help="Quem escreve: o telefone (WhatsApp), o id do chat (Telegram) ou o id do "
                   "usuário na página (Messenger, Instagram).")
@click.option("--text", help="O texto da mensagem.")
@click.option("--name", help="O nome do contato, como o provedor o mandaria.")
@click.option("--id", "external_id", help="O id da mensagem no provedor (gerado se omitido).")
@click.option("--status", type=click.Choice(STATUSES),
              help="Em vez de uma mensagem, um recibo desta situação para --message.")
@click.option("--message", "message_id",
              help="Com --status: o id no provedor da mensagem enviada pelo Atende.")
@click.option("--base-url", default=DEFAULT_BASE_URL, show_default=True,
              help="Endereço do Atende em execução que recebe o webhook.")
def channels_simulate(kind, connection_id, address, text, name, external_id, status,
                      message_id, base_url) -> None:
    """Manda ao Atende em execução um webhook do provedor, assinado como o provedor o
    assinaria (mensagem de texto ou recibo de entrega/leitura)."""
    conn = db.session.get(Connection, connection_id)
    if conn is None or conn.kind != kind:
        raise click.ClickException(f"Nenhuma conexão #{connection_id} do tipo {kind}.")
    adapter = adapter_for(conn)
    with acting_for(conn.company_id):
        try:
            if status:
                if not message_id:
                    raise click.ClickException("Com --status, informe --message (o id da "
                                               "mensagem no provedor).")
                raw, headers = adapter.simulated_status(message_id, status, address)
            else:
                if not (text or "").strip():
                    raise click.ClickException("Informe --text (ou --status e --message).")
                raw, headers = adapter.simulated(address, text, name, external_id)
        except NotImplementedError:
            raise click.ClickException(f"{conn.kind_label} não manda recibo com a situação "
                                       f"{status}.")
        except RuleError as exc:
            raise click.ClickException(str(exc))
        except ValueError:  # Meta's receipt names the contact of a message we sent
            raise click.ClickException(f"Nenhuma mensagem {message_id} enviada por esta "
                                       "conexão.")
    url = f"{base_url.rstrip('/')}{rules.webhook_path(conn)}"
    click.echo(f"POST {url}")
    status_code, body = _post(url, raw, headers)
    click.echo(f"Resposta: {status_code} {body}")
    if not 200 <= status_code < 300:
        raise SystemExit(1)


def _post(url: str, raw: bytes, headers: dict) -> tuple[int, str]:
    """POST to the operator's own Atende. Not lib.outbound: that helper exists for
    addresses a *company* chooses and refuses loopback (SEC-2) unless ALLOW_PRIVATE_URLS,
    while this command is the operator's and aims by default at 127.0.0.1, its own
    server; the standard library is the plain tool for that."""
    request = urllib.request.Request(url, data=raw, method="POST",
                                     headers={"Content-Type": "application/json", **headers})
    try:
        with urllib.request.urlopen(request, timeout=15) as answer:  # noqa: S310 (own server)
            return answer.status, _short(answer.read())
    except urllib.error.HTTPError as exc:
        return exc.code, _short(exc.read())
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise click.ClickException(f"Não foi possível falar com o Atende em {url}: {reason}. "
                                   "Ele está rodando (make run)? Veja --base-url.")


def _short(body: bytes) -> str:
    text = body.decode("utf-8", "replace").strip()
    try:
        return json.dumps(json.loads(text), ensure_ascii=False)
    except ValueError:
        return text[:500]
