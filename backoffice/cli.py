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


def init_cli(app) -> None:
    app.cli.add_command(seed_cli)
