"""Keep every test's experience memory out of the user's shared one; no retrieving start.

The retrieving start (``retrieve``, 4 by default) scores one or two more starts whose
inputs are ~5x longer; the tests about it ask for it (``retrieve=...``, which beats the
environment), the others run without it.
"""

import os
import tempfile


def pytest_configure(config):
    os.environ["FLOWPO_MEMORY"] = tempfile.mkdtemp(prefix="flowpo-test-memory-")
    os.environ["FLOWPO_RETRIEVE"] = "0"
