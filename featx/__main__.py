"""``python -m featx``: the ``featx`` command."""

from featx.cli.main import cli

cli()
