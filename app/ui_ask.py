"""The Ask tab: streaming chat with follow-ups, cited sources, PDF page preview and feedback."""

from __future__ import annotations

import time
from collections.abc import Generator, Iterator
from typing import Any

import gradio as gr
from PIL import Image

from app.feedback import Feedback
from app.gate import GateBusy, Ticket
from app.preview import render_page
from app.render import answer_markdown, cited_sentences, source_choice, sources_html
from app.services import EMPTY_LIBRARY, AppServices
from assistant.answer import Answer

VERDICT_LABELS = {
    "correct": "Correct",
    "incorrect": "Incorrect",
    "wrong_evidence": "Wrong evidence",
}
QUEUE_POLL_S = 1.0
NO_SOURCES = "<p class='s3-empty'>Sources of the answer appear here.</p>"


def _answer_state(answer: Answer) -> dict[str, Any]:
    """What feedback and the preview need from the last answer (plain data for gr.State)."""
    shown = answer.related if answer.refused else answer.sources
    return {
        "question": answer.question,
        "answer": answer.answer,
        "backend": answer.backend,
        "settings_hash": answer.settings_hash,
        "sources": answer.citations() or [s.citation() for s in answer.related],
        "preview": {
            str(s.n): {
                "label": source_choice(s),
                "file": s.file,
                "page": s.page,
                "marks": cited_sentences(answer, s.n) or [s.text],
            }
            for s in shown
        },
        "first": str(answer.cited_numbers[0] if answer.cited_numbers else shown[0].n)
        if shown
        else None,
    }


class AskTab:
    def __init__(self, svc: AppServices):
        self.svc = svc

    def preview(self, pick: str | None, state: dict[str, Any] | None) -> Image.Image | None:
        item = (state or {}).get("preview", {}).get(pick or "")
        if not item:
            return None
        path = self.svc.document_path(item["file"])
        return render_page(path, item["page"], item["marks"]) if path else None

    def respond(
        self, message: str, chat: list[dict[str, Any]], turns: list[Any], backend: str
    ) -> Iterator[dict[Any, Any]]:
        message = (message or "").strip()
        if not message:
            return
        chat = [*chat, {"role": "user", "content": message}, {"role": "assistant", "content": "…"}]
        yield {self.chatbot: chat, self.question: "", self.feedback_status: ""}
        if self.svc.indexed_count() == 0:
            chat[-1]["content"] = EMPTY_LIBRARY
            yield {self.chatbot: chat}
            return
        answer: Answer | None = None
        parts: list[str] = []
        ticket: Ticket | None = None
        try:
            if self.svc.uses_model(backend):
                ticket = yield from self._queue(chat)
            history = [tuple(t) for t in turns]
            for item in self.svc.assistant.stream(message, history, backend, {}):
                if isinstance(item, Answer):
                    answer = item
                else:
                    parts.append(item)
                    chat[-1]["content"] = "".join(parts)
                    yield {self.chatbot: chat}
        except GateBusy as exc:
            chat[-1]["content"] = (
                f"**Busy:** {exc}. Please ask again in about {exc.retry_after} s "
                "(or use the extractive backend, which needs no model)."
            )
            yield {self.chatbot: chat}
            return
        except Exception as exc:  # show the reason in the chat rather than a bare "Error"
            chat[-1]["content"] = f"**Error:** the question could not be answered: {exc}"
            yield {self.chatbot: chat}
            return
        finally:
            if ticket is not None:
                ticket.release()
        assert answer is not None
        chat[-1]["content"] = answer_markdown(answer)
        state = _answer_state(answer)
        choices = [(v["label"], k) for k, v in state["preview"].items()]
        yield {
            self.chatbot: chat,
            self.turns: [*turns, [answer.standalone_question, answer.answer]],
            self.sources: sources_html(answer),
            self.pick: gr.update(choices=choices, value=state["first"]),
            self.image: self.preview(state["first"], state),
            self.last: state,
        }

    def _queue(self, chat: list[dict[str, Any]]) -> Generator[dict[Any, Any], None, Ticket]:
        """Wait for a generation slot, showing the place in the queue; GateBusy when the
        queue is full or the wait runs out."""
        gate = self.svc.gate
        ticket = gate.join()
        deadline = time.monotonic() + gate.wait_s
        try:
            while not ticket.wait(min(QUEUE_POLL_S, max(deadline - time.monotonic(), 0.0))):
                position = ticket.position
                if position == 0:
                    break
                if time.monotonic() >= deadline:
                    raise GateBusy(
                        f"no answer slot within {gate.wait_s:g} s",
                        gate.retry_after(position),
                        position,
                    )
                chat[-1]["content"] = (
                    f"⏳ The model is busy: you are number {position} in the queue…"
                )
                yield {self.chatbot: chat}
        except BaseException:  # the page left (GeneratorExit) or busy: free the place
            ticket.release()
            raise
        return ticket

    def feedback(self, verdict: str, comment: str, state: dict[str, Any] | None) -> tuple[str, str]:
        if not state:
            return "Ask a question first, then rate its answer.", comment
        item = Feedback(
            verdict=verdict,
            question=state["question"],
            answer=state["answer"],
            sources=state["sources"],
            backend=state["backend"],
            settings_hash=state["settings_hash"],
            comment=comment or "",
        )
        row_id = self.svc.feedback.add(item)
        return f"Thanks — feedback #{row_id} saved ({VERDICT_LABELS[verdict]}).", ""

    def build(self) -> None:
        settings = self.svc.settings
        status = self.svc.backends()
        choices = [(n if not why else f"{n} (unavailable)", n) for n, why in status.items()]
        reasons = "; ".join(f"{n}: {why}" for n, why in status.items() if why)
        with gr.Row(equal_height=False):
            with gr.Column(scale=3):
                self.chatbot = gr.Chatbot(
                    label="Answers cite the documents as [n]",
                    height=460,
                    elem_id="s3-chat",
                    placeholder="Ask how to run an entrepreneurial discovery process, what a "
                    "region prioritised, how to monitor a strategy…",
                )
                with gr.Row():
                    self.question = gr.Textbox(
                        show_label=False,
                        placeholder="Your question (follow-ups use the conversation)",
                        max_length=settings.max_question_chars,
                        scale=5,
                        elem_id="s3-question",
                    )
                    ask = gr.Button("Ask", variant="primary", scale=1, elem_id="s3-ask")
                with gr.Row():
                    backend = gr.Dropdown(
                        choices=choices,
                        value=settings.llm_backend,
                        label="Answer backend",
                        info=reasons[:300] or None,
                        scale=3,
                    )
                    clear = gr.Button("New conversation", scale=1)
                with gr.Group(elem_id="s3-feedback"):
                    gr.Markdown("**Was this answer right?**")
                    with gr.Row():
                        buttons = {
                            v: gr.Button(label, size="sm", elem_id=f"s3-rate-{v}")
                            for v, label in VERDICT_LABELS.items()
                        }
                    comment = gr.Textbox(label="Comment (optional)", lines=1, elem_id="s3-comment")
                    self.feedback_status = gr.Markdown(elem_id="s3-feedback-status")
            with gr.Column(scale=2):
                gr.Markdown("**Sources**")
                self.sources = gr.HTML(NO_SOURCES, elem_id="s3-sources")
                self.pick = gr.Dropdown(choices=[], label="Page preview of", elem_id="s3-pick")
                self.image = gr.Image(
                    label="Page preview",
                    type="pil",
                    interactive=False,
                    height=520,
                    elem_id="s3-preview",
                )
        self.turns = gr.State([])
        self.last = gr.State(None)
        outputs = [
            self.chatbot,
            self.question,
            self.feedback_status,
            self.turns,
            self.sources,
            self.pick,
            self.image,
            self.last,
        ]
        inputs = [self.question, self.chatbot, self.turns, backend]
        ask.click(self.respond, inputs, outputs)
        self.question.submit(self.respond, inputs, outputs)
        self.pick.input(self.preview, [self.pick, self.last], self.image)
        clear.click(
            lambda: ([], [], NO_SOURCES, gr.update(choices=[], value=None), None, None, ""),
            None,
            [self.chatbot, self.turns, self.sources, self.pick, self.image, self.last, comment],
        )
        for verdict, button in buttons.items():
            button.click(self._rate(verdict), [comment, self.last], [self.feedback_status, comment])

    def _rate(self, verdict: str) -> Any:
        def rate(comment: str, state: dict[str, Any] | None) -> tuple[str, str]:
            return self.feedback(verdict, comment, state)

        return rate
