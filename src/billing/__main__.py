from billing.runtime.cli import app

app()
