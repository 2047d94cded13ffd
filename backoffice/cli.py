"""Operator commands: `flask seed demo`, `flask seed superuser`."""
from __future__ import annotations

import click
from flask.cli import AppGroup

seed_cli = AppGroup("seed", help="Dados iniciais.")


@seed_cli.command("demo")
@click.option("--force", is_flag=True, help="Carrega mesmo que já existam empresas.")
def seed_demo(force: bool) -> None:
    """Carrega a empresa demo de seed/ (só na primeira vez)."""
    from .seed import load_demo

    created = load_demo(force=force)
    click.echo("Empresa demo carregada." if created else "Já existem empresas; nada feito.")


@seed_cli.command("superuser")
@click.option("--email", prompt="E-mail")
@click.option("--name", prompt="Nome", default="Operador SaaS")
@click.password_option("--password", prompt="Senha")
def seed_superuser(email: str, name: str, password: str) -> None:
    """Cria o super usuário (operador SaaS) numa instalação nova."""
    from .extensions import db
    from .models import User
    from .services import saas

    if len(password) < 8:
        raise click.BadParameter("a senha precisa de ao menos 8 caracteres", param_hint="--password")
    if saas.email_taken(email):
        raise click.ClickException(f"Já existe um usuário com o e-mail {email}.")
    user = User(name=name, email=email.strip().lower(), is_superuser=True)
    user.set_password(password)
    db.session.add(user)
    db.session.commit()
    click.echo(f"Super usuário {user.email} criado.")


inbox_cli = AppGroup("inbox", help="Caixa de entrada.")


@inbox_cli.command("sweep")
def inbox_sweep() -> None:
    """Recoloca na fila as mensagens que ficaram paradas (a fila estava fora do ar)."""
    from .services import sending

    click.echo(f"{sending.sweep()} mensagem(ns) recolocada(s) na fila.")


@inbox_cli.command("sweeper")
@click.option("--interval", default=60, show_default=True, help="Segundos entre varreduras.")
def inbox_sweeper(interval: int) -> None:
    """Varre as mensagens paradas para sempre (um processo ao lado dos workers)."""
    from flask import current_app

    from .services.sweeper import run_forever

    run_forever(current_app._get_current_object(), interval)


def init_cli(app) -> None:
    app.cli.add_command(seed_cli)
    app.cli.add_command(inbox_cli)
