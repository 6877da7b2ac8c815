import doctest
import subprocess
import sys

import flowpo
import flowpo.models.chat


def test_all_exports_exist_and_nothing_private_leaks():
    for name in flowpo.__all__:
        assert hasattr(flowpo, name), name
    assert sorted(flowpo.__all__) == sorted(set(flowpo.__all__))
    assert not [n for n in flowpo.__all__ if n.startswith("_") and n != "__version__"]


def test_importing_flowpo_does_not_load_torch():
    code = "import sys, flowpo; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_docstring_examples_run():
    for mod in (flowpo, flowpo.models.chat):
        failed, _ = doctest.testmod(mod)
        assert failed == 0
