"""``omero-mail --help`` reads the table of commands only; a command's module loads when it runs."""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import pytest

from consumer.admin.commands import COMMANDS, module

ROOT = Path(__file__).resolve().parent.parent
LOADED_BY = """
import contextlib, io, sys
import consumer.admin.cli
with contextlib.redirect_stdout(io.StringIO()):
    try:
        consumer.admin.cli.main({argv!r})
    except SystemExit:
        pass
print(" ".join(sorted({{name.split(".")[0] for name in sys.modules}})))
"""


def top_level_modules_loaded_by(*argv: str) -> set[str]:
    done = subprocess.run([sys.executable, "-c", LOADED_BY.format(argv=list(argv))], capture_output=True,
                          text=True, cwd=ROOT, timeout=60, check=True)
    return set(done.stdout.split())


def test_help_loads_neither_pika_nor_marshmallow():
    loaded = top_level_modules_loaded_by("--help")
    assert "consumer" in loaded
    assert not loaded & {"pika", "marshmallow", "psycopg", "defusedxml", "tenacity"}


def test_a_commands_own_help_loads_its_module():
    assert "marshmallow" in top_level_modules_loaded_by("publish", "--help")


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_each_command_in_the_table_is_registered_by_its_module(name):
    parser = argparse.ArgumentParser()
    subparsers = parser.add_subparsers()
    module(name).register(subparsers)
    assert name in subparsers.choices
