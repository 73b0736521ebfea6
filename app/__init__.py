"""The web app and HTTP API: the last stage (ingest -> vectorstore -> assistant -> app).

``create_app(settings)`` in :mod:`app.server` builds the FastAPI app (``/v1/chat/completions``,
``/search``, ``/documents``, ``/health``) with the Gradio UI mounted at ``/ui``.
"""
