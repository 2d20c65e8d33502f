"""WSGI entry point: ``gunicorn -w 1 --threads 16 wsgi:app`` (one process: media runs in it)."""

from remote_tuk import create_app

app = create_app()
