"""pytest fixtures shared by the integration tests."""
import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402


@pytest.fixture
def procs(tmp_path):
    """Starts processes for one test and stops all of them, by pid, at its end."""
    p = harness.Procs(str(tmp_path))
    yield p
    p.stop_all()
