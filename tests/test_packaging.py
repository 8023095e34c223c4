"""What ``python -m build`` makes of the project: a quiet build, and an sdist that carries
everything ``make test`` reads, so the released source can run its own tests."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
#: What ``make test`` reads besides the packages: the Makefile, the lint and type settings,
#: the tests with their fixtures, the files they check (etc/, deploy/), and bench/ (mypy's).
RUN_BY_MAKE_TEST = ("Makefile", "pyproject.toml", "setup.cfg", "README.rst", "tests", "etc", "deploy", "bench")
NOT_SOURCE = shutil.ignore_patterns(".venv", ".git", "var", "build", "dist", "*.egg-info", "__pycache__",
                                    ".pytest_cache", ".mypy_cache", ".ruff_cache")


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """The sdist and the wheel built from it, as ``python -m build`` makes them from a clean copy."""
    source = tmp_path_factory.mktemp("source") / "omero-mail"
    shutil.copytree(ROOT, source, ignore=NOT_SOURCE)
    out = tmp_path_factory.mktemp("dist")
    done = subprocess.run([sys.executable, "-m", "build", "--outdir", str(out), str(source)],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    [sdist] = out.glob("*.tar.gz")
    return source, sdist, done.stdout + done.stderr


@pytest.mark.slow
def test_building_the_sdist_and_wheel_gives_no_package_data_warning(built):
    _, _, output = built
    assert "absent from the `packages` configuration" not in output
    assert "Package would be ignored" not in output


@pytest.mark.slow
def test_the_sdist_carries_every_file_make_test_reads(built):
    source, sdist, _ = built
    with tarfile.open(sdist) as archive:
        shipped = {Path(*Path(name).parts[1:]) for name in archive.getnames()}
    wanted = set()
    for name in RUN_BY_MAKE_TEST:
        path = source / name
        wanted |= {p.relative_to(source) for p in path.rglob("*") if p.is_file()} if path.is_dir() else {Path(name)}
    assert wanted - shipped == set()


@pytest.mark.slow
def test_the_sdist_leaves_out_the_development_clutter(built):
    _, sdist, _ = built
    with tarfile.open(sdist) as archive:
        names = archive.getnames()
    assert not [name for name in names if "__pycache__" in name or name.endswith((".pyc", ".pyo"))]


@pytest.mark.slow
def test_the_unpacked_sdist_collects_its_whole_test_suite_and_runs_some(built, tmp_path):
    _, sdist, _ = built
    with tarfile.open(sdist) as archive:
        archive.extractall(tmp_path, filter="data")
    [unpacked] = tmp_path.iterdir()
    for args in (["--collect-only", "tests"], ["tests/test_settings.py", "tests/test_schemas.py"]):
        done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args],
                              cwd=unpacked, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]


@pytest.mark.slow
def test_the_wheel_carries_the_packages_data_and_no_tests(built):
    _, sdist, _ = built
    [wheel] = sdist.parent.glob("*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert {"senders/data/directory.json", "senders/data/model-classes.txt"} <= names
    assert not [name for name in names if name.startswith(("tests/", "bench/"))]
