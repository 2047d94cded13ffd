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


contacts_cli = AppGroup("contacts", help="Contatos.")


def _user_by_email(email: str):
    from sqlalchemy import func, select

    from .extensions import db
    from .models import User

    user = db.session.scalar(select(User).where(func.lower(User.email) == email.strip().lower()))
    if user is None or user.company_id is None or not user.active:
        raise click.ClickException(f"Nenhum usuário ativo de empresa com o e-mail {email}.")
    return user


@contacts_cli.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--user", "email", required=True,
              help="E-mail de quem importa: a empresa dele recebe os contatos e a importação "
                   "fica registrada em seu nome.")
@click.option("--update", "fields", default="",
              help="Atualizar registros existentes, só estes campos (separados por vírgula), "
                   "ex.: name,email,tags. Sem a opção: só contatos novos são criados.")
@click.option("--encoding", type=click.Choice(["utf-8-sig", "cp1252", "latin-1"]),
              help="Codificação (detectada quando omitida).")
@click.option("--delimiter", type=click.Choice([";", ",", "tab"]),
              help="Separador (detectado quando omitido).")
@click.option("--resume", "resume_id", type=int,
              help="Retoma a importação de número N, interrompida, em vez de começar outra.")
def contacts_import(file, email, fields, encoding, delimiter, resume_id) -> None:
    """Importa contatos de um CSV, com as mesmas regras da tela Importar/exportar registros."""
    from pathlib import Path

    from .models import data_jobs as states
    from .services import RuleError, data_jobs

    user = _user_by_email(email)
    try:
        if resume_id:
            job = data_jobs.find(user, resume_id)
            if job is None:
                raise click.ClickException(f"Importação #{resume_id} não encontrada.")
            data_jobs.resume(job, enqueue=False, runner=user)
        else:
            job = data_jobs.import_from_path(user, Path(file))
            data_jobs.set_format(job, encoding, delimiter)
            chosen = [f.strip() for f in fields.split(",") if f.strip()]
            data_jobs.start_import(job, bool(chosen), chosen, enqueue=False)
        click.echo(f"Importação #{job.id}: {job.file_name} ({job.encoding}, "
                   f"separador {job.delimiter!r})")
        data_jobs.run_import(job.id)
    except RuleError as exc:
        raise click.ClickException(str(exc))
    job = data_jobs.find(user, job.id)
    click.echo(f"{job.status_label}: {job.created} criado(s), {job.updated} atualizado(s), "
               f"{job.unchanged} sem alteração, {job.rejected} rejeitado(s).")
    if job.error:
        click.echo(job.error, err=True)
    if job.rejected:
        for row in list(data_jobs.report_rows(job))[1:21]:
            click.echo(f"  linha {row[0]}: {row[1]}", err=True)
    if job.status != states.DONE:
        raise SystemExit(1)


def init_cli(app) -> None:
    app.cli.add_command(seed_cli)
    app.cli.add_command(inbox_cli)
    app.cli.add_command(contacts_cli)
    from .cli_data import export_cli

    app.cli.add_command(export_cli)
