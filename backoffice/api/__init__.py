"""The public REST API v1 (API-1) under /api/v1, its OpenAPI document and its
documentation page (/api/docs).

Built with flask-smorest: each route declares its input and output as marshmallow
schemas, and the OpenAPI 3 document is generated from them, so the documentation cannot
drift from the code. `core.py` holds what every route shares (token, right, rate limit,
commit, problem documents), `routes/` one module per resource.
"""
from __future__ import annotations

from flask import Flask

from .core import AtendeApi

API_VERSION = "v1"


def init_api(app: Flask) -> None:
    app.config.setdefault("API_TITLE", "Atende API")
    app.config.setdefault("API_VERSION", API_VERSION)
    app.config.setdefault("OPENAPI_VERSION", "3.0.3")
    app.config["OPENAPI_URL_PREFIX"] = None  # served by api/docs.py, not by flask-smorest
    api = AtendeApi(app, spec_kwargs={
        "info": {"description": _description()},
        "servers": [{"url": "/", "description": "Esta instalação"}],
    })
    api.spec.components.security_scheme("token", {
        "type": "http", "scheme": "bearer",
        "description": "Token criado em Configurações > Tokens de API: "
                       "`Authorization: Bearer atd_...`.",
    })
    api.spec.options["security"] = [{"token": []}]
    from .routes import BLUEPRINTS

    for blp in BLUEPRINTS:
        api.register_blueprint(blp)
    from .docs import bp as docs_bp

    app.register_blueprint(docs_bp)
    app.extensions["atende_api"] = api


def _description() -> str:
    return (
        "API REST do Atende: envie mensagens, gerencie contatos e atendimentos, "
        "consulte o cadastro e configure webhooks.\n\n"
        "- **Autenticação**: `Authorization: Bearer <token>`; o grupo de permissões "
        "(tipo API) do token diz quais rotas ele pode chamar (403 quando não pode).\n"
        "- **Erros**: `application/problem+json` com `detail` em português e, para dados "
        "inválidos, `errors` por campo.\n"
        "- **Paginação**: `limit` e `cursor`; a resposta traz `data` e `next_cursor`.\n"
        "- **Idempotência**: envie `Idempotency-Key` nos POST que criam; repetir a mesma "
        "requisição devolve a primeira resposta, sem criar de novo.\n"
        "- **Limite**: requisições por minuto por token; acima dele, 429 com `Retry-After`."
    )
