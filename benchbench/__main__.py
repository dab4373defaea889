"""``python -m benchbench``: the same as the ``benchbench`` command."""

from .cli.main import main

if __name__ == "__main__":
    main()
