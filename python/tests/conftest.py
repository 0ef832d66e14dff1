"""Fixtures of the Python package's tests: the reference data's tiny models and the sdxl CLI,
which the images are compared with. ctest sets SDXL_LIBRARY, SDXL_CLI and PYTHONPATH."""

import os
import subprocess

import pytest


def reference_dir():
    return os.environ.get("SDXL_REF", os.path.join(os.path.dirname(__file__), "..", "..", "..", "shared", "sdxl-ref"))


@pytest.fixture(scope="session")
def ref():
    path = reference_dir()
    if not os.path.exists(os.path.join(path, "cases.json")):
        if os.environ.get("SDXL_REQUIRE_REF") == "1":
            pytest.fail(f"the reference data is missing at {path} (SDXL_REQUIRE_REF=1)")
        pytest.skip(f"no reference data at {path}")
    return path


@pytest.fixture(scope="session")
def tiny(ref):
    return os.path.join(ref, "models", "tiny-sdxl-base")


@pytest.fixture(scope="session")
def cli():
    path = os.environ.get("SDXL_CLI")
    if not path or not os.path.exists(path):
        pytest.fail("SDXL_CLI must name the sdxl binary (ctest sets it)")

    def run(*args, threads=None):
        command = [path] + ([f"--threads={threads}"] if threads else []) + [str(a) for a in args]
        done = subprocess.run(command, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        return done

    return run
