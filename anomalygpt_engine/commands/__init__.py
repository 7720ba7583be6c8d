"""Subcommands of the `anomalygpt` CLI, discovered by cli.build_parser."""
