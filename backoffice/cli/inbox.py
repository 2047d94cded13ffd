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
    """Recoloca na fila as mensagens, importações e exportações paradas (a fila estava
    fora do ar, ou o worker parou)."""
    for task, count in periodic.run_all():
        click.echo(f"{count} {task.what} recolocada(s) na fila.")


@inbox_cli.command("sweeper")
@click.option("--interval", default=60, show_default=True, help="Segundos entre varreduras.")
def inbox_sweeper(interval: int) -> None:
    """Varre o que ficou parado para sempre (um processo ao lado dos workers)."""
    periodic.run_forever(current_app._get_current_object(), interval)
