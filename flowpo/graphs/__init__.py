"""The LangGraph optimization loop: state schema, builder and routers (PromptFlow issue)."""
