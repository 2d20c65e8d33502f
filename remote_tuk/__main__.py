"""``python -m remote_tuk <command>``: the app's CLI (serve, migrate, seed-demo, import-standard, ...)."""

from flask.cli import FlaskGroup

from remote_tuk import create_app

cli = FlaskGroup(create_app=lambda: create_app(), add_default_commands=False)

if __name__ == "__main__":
    cli()
