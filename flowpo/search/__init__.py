"""The PromptFlow method's plain logic, with no LangGraph import.

Policy (Q table, MSGD, SARSA), objective, beam, credit, stopping, candidate scoring,
reflection, drafting and label words.
"""
