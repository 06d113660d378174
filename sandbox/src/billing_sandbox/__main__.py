"""`billing-sandbox`: placeholder until the sandbox lands."""


def main() -> None:
    raise SystemExit("billing-sandbox is not built yet")
