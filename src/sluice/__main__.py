"""`python -m sluice` is the `sluice` command."""

from sluice.cli.app import main

main()
