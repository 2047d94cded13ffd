"""Operator commands (`flask <group> <command>`), one module per group: seed, inbox,
contacts, export, channels (`connections` and `channels`), reports.

A command that acts on one company runs under `acting_for(company_id)`, so the flush
guard refuses rows of another company as it does in that company's request; commands
that span companies (seed, the sweeps) act on each row under its own company.
"""
from __future__ import annotations

from flask import Flask

from .channels import channels_cli, connections_cli
from .contacts import contacts_cli
from .export import export_cli
from .inbox import inbox_cli
from .reports import reports_cli
from .seed import seed_cli


def init_cli(app: Flask) -> None:
    for command in (seed_cli, inbox_cli, contacts_cli, export_cli, connections_cli,
                    channels_cli, reports_cli):
        app.cli.add_command(command)
