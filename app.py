"""The WSGI entry point: `flask --app app …` and `gunicorn app:app`."""

from checkout import create_app_for_process

app = create_app_for_process()
