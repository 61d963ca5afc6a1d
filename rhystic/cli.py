"""Operator commands: `flask turn-config` and `flask prune-rooms`."""
import click
from flask import Blueprint, current_app

from . import turn
from .models import Room

bp = Blueprint('cli', __name__, cli_group=None)


@bp.cli.command('turn-config')
@click.option('--port', default=3478, show_default=True, help='TURN listening port.')
@click.option('--tls-port', default=5349, show_default=True, help='TURNS listening port.')
def turn_config(port, tls_port):
    """Print a hardened coturn config sharing this app's TURN secret and realm.

    Save it and run `turnserver -c FILE`.
    """
    if not current_app.config.get('TURN_SECRET'):
        raise click.ClickException('RHYSTIC_TURN_SECRET is not set')
    click.echo(turn.coturn_config(current_app.config, port, tls_port), nl=False)


@bp.cli.command('prune-rooms')
@click.option('--idle-days', type=click.IntRange(min=0), default=30, show_default=True,
              help='Delete rooms idle at least this many days.')
def prune_rooms(idle_days):
    """Delete rooms nobody has used for --idle-days days."""
    count = Room.prune(idle_days)
    click.echo(f'pruned {count} room{"s" if count != 1 else ""} idle for {idle_days}+ days')
