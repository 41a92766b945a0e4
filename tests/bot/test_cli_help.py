"""Every `socialops` subcommand answers -h/--help with its own usage and exit code 0."""

from __future__ import annotations

import argparse

import pytest

from bot.__main__ import build_parser, run


def _subcommands() -> list[str]:
    parser = build_parser()
    (sub,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return sorted(sub.choices)


def test_the_subcommand_list_is_the_one_the_readme_documents():
    """The parametrised test below walks these; a new subcommand joins it without editing the test."""
    assert {"backtest", "import", "console", "serve", "socket", "db", "sources", "sentiment", "export"} <= set(_subcommands())


@pytest.mark.parametrize("flag", ["-h", "--help"])
@pytest.mark.parametrize("command", _subcommands())
def test_every_subcommand_answers_help(command, flag, capsys):
    """`socialops <command> --help` prints that command's usage to stdout and exits 0 (no "unrecognized arguments")."""
    with pytest.raises(SystemExit) as exited:
        run([command, flag])
    out = capsys.readouterr()
    assert exited.value.code == 0, out.err
    assert out.out.startswith(f"usage: socialops {command}") and "error" not in out.err


def test_import_mentions_help_describes_the_file_and_source(capsys):
    """`socialops import mentions --help` reaches the importer's own options."""
    with pytest.raises(SystemExit) as exited:
        run(["import", "mentions", "--help"])
    assert exited.value.code == 0 and "--source" in capsys.readouterr().out


@pytest.mark.parametrize("flag", ["-h", "--help"])
def test_socialops_itself_answers_help(flag, capsys):
    """`socialops --help` lists the subcommands."""
    with pytest.raises(SystemExit) as exited:
        run([flag])
    assert exited.value.code == 0 and "backtest" in capsys.readouterr().out
