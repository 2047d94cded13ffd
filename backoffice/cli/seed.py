"""`flask seed demo` and `flask seed superuser`: a new installation's first data; the
demo's logins as `python app.py` (make run) prints them."""
from __future__ import annotations

import json
from pathlib import Path

import click
from flask.cli import AppGroup
from sqlalchemy import func, select

from ..extensions import db
from ..models import Company, PortalAccount, User
from ..seed import SEED_FILE, load_demo
from ..seed_portal import demo_representative, representative_works
from ..services import saas

seed_cli = AppGroup("seed", help="Dados iniciais.")


@seed_cli.command("demo")
@click.option("--force", is_flag=True, help="Carrega mesmo que já existam empresas.")
def seed_demo(force: bool) -> None:
    """Carrega a empresa demo de seed/ (só na primeira vez)."""
    created = load_demo(force=force, history=True)  # a month of past tickets for the reports
    click.echo("Empresa demo carregada." if created else "Já existem empresas; nada feito.")


@seed_cli.command("superuser")
@click.option("--email", prompt="E-mail")
@click.option("--name", prompt="Nome", default="Operador SaaS")
@click.password_option("--password", prompt="Senha")
def seed_superuser(email: str, name: str, password: str) -> None:
    """Cria o super usuário (operador SaaS) numa instalação nova."""
    # No acting_for: the SaaS operator belongs to no company.
    if len(password) < 8:
        raise click.BadParameter("a senha precisa de ao menos 8 caracteres", param_hint="--password")
    if saas.email_taken(email):
        raise click.ClickException(f"Já existe um usuário com o e-mail {email}.")
    user = User(name=name, email=email.strip().lower(), is_superuser=True)
    user.set_password(password)
    db.session.add(user)
    db.session.commit()
    click.echo(f"Super usuário {user.email} criado.")


def demo_logins(base_url: str, path: Path = SEED_FILE) -> list[str]:
    """What `make run` prints (UX-3): the panel and the inbox addresses, and the demo's
    logins by role, read from the seed file (the one place their passwords are written).
    Only the logins that still work are listed, none on a real installation."""
    data = json.loads(path.read_text(encoding="utf-8"))
    company = data["company"]
    people = [("Administrador", company["admin"])]
    people += [(u["group"], u) for u in data["users"]]
    people.append(("Super usuário (SaaS)", data["superuser"]))
    emails = [p["email"].lower() for _role, p in people]
    stored = {u.email: u for u in db.session.scalars(
        select(User).where(func.lower(User.email).in_(emails)))}
    working = [(role, p) for role, p in people
               if (u := stored.get(p["email"].lower())) is not None and u.active
               and u.check_password(p["password"])]
    base = base_url.rstrip("/")
    lines = [f"  Atende em {base}/",
             f"  Caixa de entrada dos atendentes: {base}/inbox/ (atendentes entram direto nela)"]
    if working:
        width = max(len(role) for role, _p in working) + 1
        lines.append(f"  Logins da demo ({company['name']}):")
        lines += [f"    {(role + ':').ljust(width)} {p['email']} / {p['password']}"
                  for role, p in working]
    lines += _portal_lines(base, data)
    return lines


def _portal_lines(base: str, data: dict) -> list[str]:
    """POR-1 / ART-1: the demo's portal and help center, and its representative's login
    while it still works."""
    found = demo_representative(data.get("portal"))
    if found is None:
        return []
    organization, email, password = found
    row = db.session.execute(
        select(Company.domain).join(PortalAccount, PortalAccount.company_id == Company.id)
        .where(PortalAccount.email == email.lower())).first()
    if row is None or not representative_works(email, password):
        return []
    return [f"  Portal Fale Conosco: {base}/portal/{row.domain}/ "
            f"(representante de {organization}: {email} / {password})",
            f"  Central de ajuda pública: {base}/ajuda/{row.domain}/"]
