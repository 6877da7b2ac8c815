"""The run report (``report.html``) and the ``report``/``trace`` commands."""
