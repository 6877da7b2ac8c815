"""Keep every test's experience memory out of the user's shared one."""

import os
import tempfile


def pytest_configure(config):
    os.environ["FLOWPO_MEMORY"] = tempfile.mkdtemp(prefix="flowpo-test-memory-")
