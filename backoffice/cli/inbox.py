"""`flask inbox sweep` (once, e.g. from cron) and `flask inbox sweeper` (forever): the
periodic tasks of jobs.periodic, the same list the thread of `python app.py` runs."""
from __future__ import annotations

import click
from flask import current_app
from flask.cli import AppGroup

from ..jobs import periodic

inbox_cli = AppGroup("inbox", help="Caixa de entrada.")


@inbox_cli.command("sweep")
def inbox_sweep() -> None:
    """Roda as automações vencidas e recoloca na fila as mensagens, importações e
    exportações paradas (a fila estava fora do ar, ou o worker parou)."""
    for task, count in periodic.run_all():
        click.echo(f"{count} {task.what}.")


@inbox_cli.command("sweeper")
@click.option("--interval", default=None, type=int,
              help="Segundos entre execuções de tudo (padrão: automações a cada 15 s, "
                   "varreduras a cada 60 s).")
def inbox_sweeper(interval: int | None) -> None:
    """Roda para sempre as automações e as varreduras (um processo ao lado dos workers)."""
    periodic.run_forever(current_app._get_current_object(), interval)
