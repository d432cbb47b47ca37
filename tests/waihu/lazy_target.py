"""A command group living in another module, for the LazyGroup tests."""

from __future__ import annotations

import click


@click.command()
def hello() -> None:
    """Say hello."""
    click.echo("hello from a lazy command")


not_a_command = "just a string"
