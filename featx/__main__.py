from featx.cli.main import cli

cli()
