"""One module per ``maskaudit`` subcommand, each exposing a click command named ``command``."""
