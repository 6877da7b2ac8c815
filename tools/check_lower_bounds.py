"""Check pyproject.toml's dependency lower bounds against what flowpo's code uses.

Usage::

    python tools/check_lower_bounds.py            # check (exit 1 on a problem)
    python tools/check_lower_bounds.py --lowest   # print a pip command pinning every bound

Three checks:

1. Every third-party module that ``flowpo/`` imports belongs to a declared dependency
   (required or an extra), so nothing works only by accident of another package.
2. Each lower bound is at least the first version that has the names the code imports
   (``NEEDS``: the version where each name appeared, from the packages' changelogs).
3. The installed version satisfies the bound and really has those names.

To test the bounds themselves, install them in a fresh virtual environment
(``pip install $(python tools/check_lower_bounds.py --lowest)``) and run the unit tests.
"""

from __future__ import annotations

import ast
import importlib
import re
import sys
import tomllib
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

NEEDS: dict[str, tuple[str, list[str]]] = {
    # distribution: (first version with every name, ["module:name", ...])
    "langgraph": (
        "1.2",  # RunControl, GraphDrained and astream(control=...): langgraph PR #7274
        [
            "langgraph.runtime:RunControl",
            "langgraph.runtime:Runtime",
            "langgraph.errors:GraphDrained",
            "langgraph.types:Command",
            "langgraph.types:interrupt",
            "langgraph.config:get_stream_writer",
        ],
    ),
    "langgraph-checkpoint-sqlite": ("3.0", ["langgraph.checkpoint.sqlite.aio:AsyncSqliteSaver"]),
    "langchain-core": (
        "1.0",
        [
            "langchain_core.language_models:BaseChatModel",
            "langchain_core.tracers.base:BaseTracer",
            "langchain_core.runnables.config:get_async_callback_manager_for_config",
        ],
    ),
    "langchain-openai": ("1.0", ["langchain_openai:ChatOpenAI"]),
    "langsmith": ("0.3.45", ["langsmith:Client", "langsmith.utils:tracing_is_enabled"]),
    # GgufConfig is used when present (older 5.x dequantize GGUF files anyway).
    "transformers": ("5.0", ["transformers:AutoModelForCausalLM", "transformers:DynamicCache"]),
    "pydantic": ("2.7", ["pydantic:field_validator", "pydantic:SecretStr"]),
    "pydantic-settings": ("2.3", ["pydantic_settings:SettingsConfigDict"]),
    "faiss-cpu": ("1.8", ["faiss:IDSelectorBatch", "faiss:SearchParameters"]),
    "httpx": ("0.23", ["httpx:AsyncClient"]),
    "safetensors": ("0.4", ["safetensors:safe_open"]),
    "click": ("8.1", ["click:Choice", "click:Path"]),
}

MODULES = {
    # top-level module imported by flowpo/ -> the distribution that provides it
    "torch": "torch",
    "transformers": "transformers",
    "gguf": "gguf",
    "safetensors": "safetensors",
    "accelerate": "accelerate",
    "langchain_core": "langchain-core",
    "langchain_openai": "langchain-openai",
    "langgraph": "langgraph",
    "langsmith": "langsmith",
    "pydantic": "pydantic",
    "pydantic_settings": "pydantic-settings",
    "yaml": "pyyaml",
    "click": "click",
    "tqdm": "tqdm",
    "numpy": "numpy",
    "faiss": "faiss-cpu",
    "openai": "openai",
    "httpx": "httpx",
    "typing_extensions": "pydantic",  # pydantic requires it
    "peft": "peft",
    "starlette": "starlette",
    "uvicorn": "uvicorn",
    "ray": "ray",
    "psycopg": "psycopg",
    "langgraph_api": "langgraph-cli",
    "langgraph_sdk": "langgraph-sdk",
    "filelock": "transformers",  # Windows only; huggingface-hub requires it
    "phoenix": "arize-phoenix",
}


def declared() -> dict[str, str]:
    """Return {distribution: lower bound} of every dependency and extra in pyproject."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    specs = list(project["dependencies"])
    for extra in project.get("optional-dependencies", {}).values():
        specs.extend(extra)
    out: dict[str, str] = {}
    for spec in specs:
        m = re.match(r"^([A-Za-z0-9_.-]+)(\[[^\]]*\])?\s*>=\s*([0-9][0-9A-Za-z.]*)", spec)
        if m:  # the highest bound wins when a package is listed twice (core and extra)
            name, bound = m.group(1).lower(), m.group(3)
            if name not in out or version_tuple(bound) > version_tuple(out[name]):
                out[name] = bound
    return out


def version_tuple(text: str) -> tuple[int, ...]:
    """Return the numeric release part of a version (``2.13.0+cpu`` -> (2, 13, 0))."""
    return tuple(int(p) for p in re.findall(r"\d+", text.split("+")[0])[:3])


def imported_modules() -> set[str]:
    """Return the top-level third-party modules ``flowpo/`` imports."""
    stdlib = set(sys.stdlib_module_names)
    found: set[str] = set()
    for path in (ROOT / "flowpo").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            found.update(n.split(".")[0] for n in names)
    return {m for m in found if m not in stdlib and m not in ("flowpo", "__future__")}


def problems() -> list[str]:
    """Return every problem found (empty when the bounds are right)."""
    bounds = declared()
    out = []
    for module in sorted(imported_modules()):
        dist = MODULES.get(module)
        if dist is None or dist not in bounds:
            out.append(f"flowpo imports {module!r} but no dependency declares it")
    for dist, (first, names) in NEEDS.items():
        bound = bounds.get(dist)
        if bound is None:
            out.append(f"{dist} is used but has no '>=' bound in pyproject.toml")
        elif version_tuple(bound) < version_tuple(first):
            out.append(f"{dist}>={bound} is too low: the code needs {first} ({', '.join(names)})")
        try:
            have = metadata.version(dist)
        except metadata.PackageNotFoundError:
            continue  # an extra that is not installed here
        if bound and version_tuple(have) < version_tuple(bound):
            out.append(f"{dist} {have} is installed, below the bound {bound}")
        for name in names:
            module, attr = name.split(":")
            if not hasattr(importlib.import_module(module), attr):
                out.append(f"{dist} {have} lacks {name}")
    return out


def main(argv: list[str]) -> int:
    """Print the problems (or the pins with ``--lowest``); return the exit status."""
    if "--lowest" in argv:
        print(" ".join(f"'{d}=={v}'" for d, v in sorted(declared().items())))
        return 0
    found = problems()
    for line in found:
        print(f"lower bounds: {line}", file=sys.stderr)
    if not found:
        print(f"lower bounds: {len(NEEDS)} packages checked, all bounds cover the code")
    return 1 if found else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
