"""flowpo as a LangGraph server: ``flowpo serve`` runs ``langgraph dev`` on 127.0.0.1.

``langgraph.json`` (written by :func:`flowpo.graph_server.cli.langgraph_config`) names the graph
(:data:`flowpo.graphs.service.graph`), the SQLite checkpointer
(:func:`flowpo.run.checkpoints.sqlite_checkpointer`), closed CORS, and an HTTP app whose
middleware refuses foreign web pages and callers without the token, and rejects bad run
requests with a 422 naming the field (:mod:`flowpo.graph_server.app`); with a token, also
LangGraph custom auth (:mod:`flowpo.graph_server.auth`).
"""
