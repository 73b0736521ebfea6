"""Text generators behind one interface: the local GGUF model and any OpenAI-compatible server.

The extractive answerer needs no generator (see ``assistant/extractive.py``).
"""
