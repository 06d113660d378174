from billing.cli import app

app()
