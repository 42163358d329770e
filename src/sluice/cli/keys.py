"""`sluice key rotate`: every sealed value re-sealed under a new secret key."""

from __future__ import annotations

from typing import Annotated

import typer

from sluice.cli.output import console, emit_json
from sluice.cli.state import STATE

app = typer.Typer(help="The secret key that seals stored credentials.", no_args_is_help=True)


@app.command("rotate")
def rotate(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
) -> None:
    """Re-seal all stored creds and lake options under a new key, in one transaction.

    The key file is replaced; with SLUICE_SECRET_KEY the new key is written beside the key
    file as `secret.key.new`, to be put into SLUICE_SECRET_KEY everywhere sluice runs.
    """
    from sluice.config.keys import rotate as rotate_key

    repo = STATE.services().repo
    done = rotate_key(repo.engine, repo.cipher)
    if as_json:
        emit_json(
            {"resealed": done.resealed, "key_file": str(done.key_file), "pending": done.pending}
        )
        return
    console.print(f"{done.resealed} sealed value(s) re-sealed under a new key", highlight=False)
    if done.pending:
        console.print(
            f"the new key is in {done.key_file}: set SLUICE_SECRET_KEY to its contents wherever "
            "sluice runs (the old key opens nothing now), then delete the file",
            highlight=False,
        )
    else:
        console.print(
            f"{done.key_file} now holds the new key: back it up (backups of the config database "
            "taken before now need the old key)",
            highlight=False,
        )
