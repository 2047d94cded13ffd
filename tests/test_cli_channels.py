"""The operator's channel commands: `flask connections create` (CHN-1: the Conexões
screen's rules from a shell, secrets encrypted, errors in Portuguese with exit code 1) and
`flask channels simulate` (CHN-2: a provider's signed webhook posted to a running Atende;
here the "running Atende" is a local recording server, and the recorded request is then
replayed through the app to show it is accepted and becomes a message)."""
from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from backoffice.channels import adapter_for
from backoffice.extensions import db
from backoffice.models import AuditLog, Company, Connection, Message
from tests.factories import gen_group, gen_user

WA = ["--setting", "phone_number_id=1234567890", "--setting", "waba_id=9876543210",
      "--setting", "access_token=EAAG-segredo-cli", "--setting", "app_secret=segredo-app-cli",
      "--setting", "verify_token=verifica-cli"]


@pytest.fixture
def cli(app):
    runner = app.test_cli_runner()

    def run(*args):
        return runner.invoke(args=list(args))

    return run


def _connection(app, name) -> Connection | None:
    with app.app_context():
        row = db.session.scalar(select(Connection).where(Connection.name == name))
        if row is not None:
            row.secrets()
            db.session.expunge(row)
        return row


def _create_whatsapp(cli, email, name="WhatsApp CLI"):
    return cli("connections", "create", "whatsapp", "--user", email, "--name", name,
               "--base-url", "https://atende.example.com/", *WA)


# -- connections create ------------------------------------------------------------------

def test_CHN_1_cli_create_prints_id_key_and_webhook_url(app, tenants, cli):
    result = _create_whatsapp(cli, tenants["a"].admin_email)
    assert result.exit_code == 0, result.output
    conn = _connection(app, "WhatsApp CLI")
    assert conn.company_id == tenants["a"].company_id and conn.active
    assert conn.settings == {"phone_number_id": "1234567890", "waba_id": "9876543210"}
    assert conn.secrets() == {"access_token": "EAAG-segredo-cli", "app_secret": "segredo-app-cli",
                              "verify_token": "verifica-cli"}
    assert f"Conexão #{conn.id} criada: WhatsApp CLI" in result.output
    assert f"Chave pública: {conn.public_key}" in result.output
    assert (f"URL do webhook: https://atende.example.com/hooks/whatsapp/{conn.public_key}"
            in result.output)
    assert "segredo" not in result.output
    with app.app_context():  # audited like the screen, secrets masked
        entry = db.session.scalar(select(AuditLog).where(
            AuditLog.table == "connection", AuditLog.row_id == str(conn.id)))
        assert entry.action == "create" and entry.user_id == tenants["a"].admin_id
        assert entry.changes["credentials"] == [None, "***"]
        assert "segredo" not in json.dumps(entry.changes)


def test_CHN_1_cli_create_telegram_generates_the_webhook_secret(app, tenants, cli):
    result = cli("connections", "create", "telegram", "--user", tenants["a"].admin_email,
                 "--name", "Bot", "--setting",
                 "bot_token=123456789:AAE-token-do-bot-de-teste-com-30-chars")
    assert result.exit_code == 0, result.output
    assert "URL do webhook: http://127.0.0.1:5000/hooks/telegram/" in result.output
    assert len(_connection(app, "Bot").secret("secret_token") or "") >= 32


@pytest.mark.parametrize("args,message", [
    (["--setting", "cor=azul"], "Campo desconhecido para WhatsApp (Cloud API): cor."),
    (["--setting", "sem-igual"], "Use --setting NOME=VALOR"),
    (["--setting", "phone_number_id=12a"], "deve ter apenas números"),
])
def test_CHN_1_cli_create_bad_setting_is_refused_in_portuguese(app, tenants, cli, args,
                                                                message):
    result = _create_whatsapp(cli, tenants["a"].admin_email)  # a valid one first: names clash
    assert result.exit_code == 0
    over = WA + args
    result = cli("connections", "create", "whatsapp", "--user", tenants["a"].admin_email,
                 "--name", "Outro", *over)
    assert result.exit_code == 1
    assert message in result.output, result.output
    assert _connection(app, "Outro") is None


def test_CHN_1_cli_create_missing_field_and_taken_name(app, tenants, cli):
    result = cli("connections", "create", "whatsapp", "--user", tenants["a"].admin_email,
                 "--name", "Sem token", *WA[:4])
    assert result.exit_code == 1 and "Informe Token de acesso." in result.output
    assert _create_whatsapp(cli, tenants["a"].admin_email).exit_code == 0
    again = _create_whatsapp(cli, tenants["a"].admin_email)
    assert again.exit_code == 1 and "Já existe uma conexão com este nome." in again.output


def test_PLT_5_cli_create_respects_the_plan_limit(app, tenants, cli):
    with app.app_context():
        db.session.get(Company, tenants["a"].company_id).plan.max_channels = 1
        db.session.commit()
    result = _create_whatsapp(cli, tenants["a"].admin_email)
    assert result.exit_code == 1 and "permite no máximo 1 conexões ativas" in result.output
    assert _connection(app, "WhatsApp CLI") is None
    inactive = cli("connections", "create", "whatsapp", "--user", tenants["a"].admin_email,
                   "--name", "Inativa", "--inactive", *WA)
    assert inactive.exit_code == 0 and _connection(app, "Inativa").active is False


def test_PLT_3_cli_create_needs_a_user_who_may_create_connections(app, tenants, cli):
    with app.app_context():
        company = db.session.get(Company, tenants["a"].company_id)
        gen_user(company, "so-ve@example.com", gen_group(company, "Só vê", ["connections.view"]))
        db.session.commit()
    result = _create_whatsapp(cli, "so-ve@example.com")
    assert result.exit_code == 1
    assert "não tem permissão para criar conexões" in result.output
    unknown = _create_whatsapp(cli, "ninguem@example.com")
    assert unknown.exit_code == 1 and "Nenhum usuário ativo" in unknown.output
    with app.app_context():
        assert db.session.scalar(select(func.count(Connection.id)).where(
            Connection.kind == "whatsapp")) == 0


def test_CHN_1_cli_list_shows_provider_connections(app, tenants, cli):
    assert _create_whatsapp(cli, tenants["a"].admin_email).exit_code == 0
    conn = _connection(app, "WhatsApp CLI")
    result = cli("connections", "list")
    assert result.exit_code == 0
    assert f"{conn.id}\twhatsapp\tativa" in result.output and conn.public_key in result.output
    assert "Conexão exclusiva A" not in result.output  # webchat: no webhook to simulate


# -- channels simulate -------------------------------------------------------------------

def _hook(httpserver, conn):
    httpserver.expect_request(f"/hooks/{conn.kind}/{conn.public_key}",
                              method="POST").respond_with_json({"received": 1, "stored": 1})


def _replay(app, conn, request):
    """The recorded request, posted to the app itself as the provider would."""
    return app.test_client().post(f"/hooks/{conn.kind}/{conn.public_key}",
                                  data=request.get_data(), headers=dict(request.headers))


def test_CHN_2_simulate_whatsapp_posts_a_signed_message_that_the_app_accepts(
        app, tenants, cli, httpserver):
    assert _create_whatsapp(cli, tenants["a"].admin_email).exit_code == 0
    conn = _connection(app, "WhatsApp CLI")
    _hook(httpserver, conn)
    result = cli("channels", "simulate", "whatsapp", "--connection", str(conn.id),
                 "--from", "5511987654321", "--name", "Maria Cliente",
                 "--text", "Olá, meus óculos ficaram prontos?", "--id", "wamid.SIMULADO1",
                 "--base-url", httpserver.url_for("/"))
    assert result.exit_code == 0, result.output
    assert 'Resposta: 200 {"received": 1, "stored": 1}' in result.output
    (request, _answer), = httpserver.log
    payload = json.loads(request.get_data())
    value = payload["entry"][0]["changes"][0]["value"]
    assert value["messages"][0]["text"]["body"] == "Olá, meus óculos ficaram prontos?"
    assert value["messages"][0]["from"] == "5511987654321"
    with app.app_context():
        adapter = adapter_for(db.session.get(Connection, conn.id))
        assert adapter.verify(request.headers, request.get_data())  # signed with app_secret
        # ... and only with it: one byte changed and the signature no longer matches
        assert not adapter.verify(request.headers, request.get_data().replace(b"prontos", b"pronto!"))

    answer = _replay(app, conn, request)
    assert answer.status_code == 200 and answer.get_json()["stored"] == 1
    with app.app_context():
        message = db.session.scalar(select(Message).where(
            Message.external_id == "wamid.SIMULADO1"))
        assert message is not None and message.text == "Olá, meus óculos ficaram prontos?"
        assert message.ticket.contact.name == "Maria Cliente"


def test_CHN_2_simulate_telegram_carries_the_secret_token(app, tenants, cli, httpserver):
    result = cli("connections", "create", "telegram", "--user", tenants["a"].admin_email,
                 "--name", "Bot", "--setting",
                 "bot_token=123456789:AAE-token-do-bot-de-teste-com-30-chars",
                 "--setting", "secret_token=segredo-do-webhook")
    assert result.exit_code == 0, result.output
    conn = _connection(app, "Bot")
    _hook(httpserver, conn)
    result = cli("channels", "simulate", "telegram", "--connection", str(conn.id),
                 "--from", "100200300", "--text", "Oi, bot", "--base-url",
                 httpserver.url_for("/"))
    assert result.exit_code == 0, result.output
    (request, _answer), = httpserver.log
    assert request.headers["X-Telegram-Bot-Api-Secret-Token"] == "segredo-do-webhook"
    assert json.loads(request.get_data())["message"]["text"] == "Oi, bot"
    assert _replay(app, conn, request).status_code == 200
    with app.app_context():
        assert db.session.scalar(select(Message).where(Message.text == "Oi, bot")) is not None


def test_CHN_2_simulate_read_receipt(app, tenants, cli, httpserver):
    assert _create_whatsapp(cli, tenants["a"].admin_email).exit_code == 0
    conn = _connection(app, "WhatsApp CLI")
    _hook(httpserver, conn)
    result = cli("channels", "simulate", "whatsapp", "--connection", str(conn.id),
                 "--from", "5511987654321", "--status", "read", "--message", "wamid.NOSSA1",
                 "--base-url", httpserver.url_for("/"))
    assert result.exit_code == 0, result.output
    (request, _answer), = httpserver.log
    status = json.loads(request.get_data())["entry"][0]["changes"][0]["value"]["statuses"][0]
    assert (status["id"], status["status"]) == ("wamid.NOSSA1", "read")
    with app.app_context():
        assert adapter_for(db.session.get(Connection, conn.id)).verify(
            request.headers, request.get_data())


def test_CHN_2_simulate_errors_are_in_portuguese_with_exit_code_1(app, tenants, cli,
                                                                  httpserver):
    assert _create_whatsapp(cli, tenants["a"].admin_email).exit_code == 0
    conn = _connection(app, "WhatsApp CLI")
    base = ["--from", "5511987654321", "--base-url", httpserver.url_for("/")]
    wrong_kind = cli("channels", "simulate", "telegram", "--connection", str(conn.id),
                     "--text", "x", *base)
    assert wrong_kind.exit_code == 1
    assert f"Nenhuma conexão #{conn.id} do tipo telegram." in wrong_kind.output
    no_text = cli("channels", "simulate", "whatsapp", "--connection", str(conn.id), *base)
    assert no_text.exit_code == 1 and "Informe --text" in no_text.output
    no_message = cli("channels", "simulate", "whatsapp", "--connection", str(conn.id),
                     "--status", "read", *base)
    assert no_message.exit_code == 1 and "informe --message" in no_message.output
    assert httpserver.log == []
    # the app answered with an error: shown, and exit code 1
    httpserver.expect_request(f"/hooks/whatsapp/{conn.public_key}").respond_with_json(
        {"error": "Assinatura inválida."}, status=403)
    refused = cli("channels", "simulate", "whatsapp", "--connection", str(conn.id),
                  "--text", "x", *base)
    assert refused.exit_code == 1 and "Resposta: 403" in refused.output
    # nothing listening there
    down = cli("channels", "simulate", "whatsapp", "--connection", str(conn.id), "--text", "x",
               "--from", "5511987654321", "--base-url", "http://127.0.0.1:9")
    assert down.exit_code == 1
    assert "Não foi possível falar com o Atende em http://127.0.0.1:9/hooks/" in down.output
