"""LangGraph custom auth for ``flowpo serve`` with a token (``--allow-public``, ``--token``).

Named by ``langgraph.json``'s ``auth`` entry when the server has a token: every request
to LangGraph's routes must carry ``Authorization: Bearer <token>``, else 401.
"""

from __future__ import annotations

from langgraph_sdk import Auth

from flowpo.graph_server.app import token_ok

auth = Auth()


@auth.authenticate
async def authenticate(authorization: str | None) -> str:
    """Accept the server's bearer token; refuse anything else with 401."""
    if not token_ok(authorization):
        raise Auth.exceptions.HTTPException(status_code=401, detail="this server needs a token")
    return "flowpo"
