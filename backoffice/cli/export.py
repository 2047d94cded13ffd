"""`flask export` (EXP-1): the Importar/exportar registros screen's export, from a shell.

The command is the screen's twin: the same checks (services.exporter.check), the same job
record and the same writer (services.data_jobs), run here in the foreground instead of
by a worker, so an operator can take a large export from the server's shell.
"""
from __future__ import annotations

import shutil
from pathlib import Path

import click
from flask.cli import with_appcontext
from sqlalchemy import func, select

from ..extensions import db
from ..models import User
from ..models import data_jobs as states
from ..services import RuleError, data_jobs
from ..tenancy import acting_for


class ExportError(click.ClickException):
    """A refusal printed as "Erro: ..." (click's own prefix is English) and exit code 1."""

    def show(self, file=None) -> None:
        click.echo(f"Erro: {self.format_message()}", err=True)


@click.command("export")
@click.argument("collection")
@click.option("--user", "email", required=True,
              help="E-mail do usuário em nome de quem exportar (a empresa e as permissões "
                   "são as dele).")
@click.option("--from", "date_from", metavar="AAAA-MM-DD", help="Criados a partir deste dia.")
@click.option("--to", "date_to", metavar="AAAA-MM-DD", help="Criados até este dia (inclusive).")
@click.option("--department", "department_id", metavar="ID", help="Id do departamento.")
@click.option("--status", metavar="SITUAÇÃO", help="Situação (por exemplo open, closed, active).")
@click.option("--tag", "tag_id", metavar="ID", help="Id da etiqueta.")
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path),
              help="Arquivo de saída (padrão: o nome da exportação, na pasta atual).")
@with_appcontext
def export_cli(collection: str, email: str, date_from: str | None, date_to: str | None,
               department_id: str | None, status: str | None, tag_id: str | None,
               output: Path | None) -> None:
    """Exporta COLLECTION para CSV (contacts, tickets, messages, users, departments, tags,
    reasons, audit)."""
    user = db.session.scalar(select(User).where(func.lower(User.email) == email.strip().lower()))
    if user is None or not user.active:
        # refused before a job is recorded (run_export would only fail it afterwards)
        raise ExportError(f"Usuário não encontrado ou inativo: {email}.")
    filters = {"date_from": date_from, "date_to": date_to, "department_id": department_id,
               "status": status, "tag_id": tag_id}
    with acting_for(user.company_id):
        source, job = _export(user, collection, filters)
    target = output or Path.cwd() / job.file_name
    try:
        shutil.copyfile(source, target)
    except OSError as exc:
        raise ExportError(f"Não foi possível gravar {target}: {exc.strerror or exc}.")
    click.echo(f"{job.processed} linha(s) exportada(s) para {target}.")


def _export(user: User, collection: str, filters: dict):
    try:
        job = data_jobs.start_export(user, collection, filters, enqueue=False)
    except RuleError as exc:
        raise ExportError(str(exc))
    job_id = job.id
    data_jobs.run_export(job_id)
    db.session.expire_all()  # run_export commits through the same session; read it fresh
    job = db.session.get(states.DataJob, job_id)
    source = data_jobs.job_path(job) if job.status == states.DONE else None
    if source is None:
        raise ExportError(job.error or "A exportação falhou.")
    return source, job
