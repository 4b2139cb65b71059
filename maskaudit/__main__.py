"""Entry point for ``python -m maskaudit``."""

from maskaudit.cli import main

if __name__ == "__main__":
    main()
