"""Command line: ``python -m pneumolib {manifest,train,...} --help``."""

from pneumolib.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
