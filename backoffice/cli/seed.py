"""`flask seed demo` and `flask seed superuser`: a new installation's first data."""
from __future__ import annotations

import click
from flask.cli import AppGroup

from ..extensions import db
from ..models import User
from ..seed import load_demo
from ..services import saas

seed_cli = AppGroup("seed", help="Dados iniciais.")


@seed_cli.command("demo")
@click.option("--force", is_flag=True, help="Carrega mesmo que já existam empresas.")
def seed_demo(force: bool) -> None:
    """Carrega a empresa demo de seed/ (só na primeira vez)."""
    created = load_demo(force=force)
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
