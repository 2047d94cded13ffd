"""`flask reports rebuild`: the reports' facts (backoffice.reports.facts) of the tickets
that have none, after an upgrade from a version without reports (`make run` runs it;
nothing to do is cheap), or of every ticket with --all."""
from __future__ import annotations

import click
from flask.cli import AppGroup

from ..reports import facts

reports_cli = AppGroup("reports", help="Relatórios.")


@reports_cli.command("rebuild")
@click.option("--all", "everything", is_flag=True,
              help="Recalcula todos os atendimentos, não só os que ainda não têm dados.")
@click.option("--company", "company_id", type=int, default=None,
              help="Só esta empresa (id).")
def reports_rebuild(everything: bool, company_id: int | None) -> None:
    """Calcula os dados dos relatórios dos atendimentos que ainda não os têm."""
    count = facts.rebuild(company_id, everything=everything)
    click.echo(f"{count} atendimento(s) calculado(s).")
