"""`flask contacts import`: the Importar/exportar registros screen's import, from a shell
(IMP-1..IMP-4), with the same services and rules."""
from __future__ import annotations

from pathlib import Path

import click
from flask.cli import AppGroup

from ..extensions import db
from ..models import User
from ..models import data_jobs as states
from ..services import RuleError, data_jobs
from ..tenancy import acting_for
from .common import user_by_email

contacts_cli = AppGroup("contacts", help="Contatos.")


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
    user = user_by_email(email)
    with acting_for(user.company_id):
        _import(user, file, fields, encoding, delimiter, resume_id)


def _import(user: User, file, fields, encoding, delimiter, resume_id) -> None:
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
               f"{job.unchanged} sem alteração, {job.rejected} rejeitado(s)."
               + (f" {job.invited} representante(s) do portal convidado(s)."
                  if job.invited else ""))
    if job.error:
        click.echo(job.error, err=True)
    if job.rejected:
        for row in list(data_jobs.report_rows(job))[1:21]:
            click.echo(f"  linha {row[0]}: {row[1]}", err=True)
    if job.status != states.DONE:
        raise SystemExit(1)
