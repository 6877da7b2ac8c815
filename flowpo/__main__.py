"""Allow ``python -m flowpo``."""

from flowpo.cli import main

main()
