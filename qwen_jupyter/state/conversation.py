"""Conversation: the turns of one chat in one notebook, keyed by the cell that produced each. In memory, no I/O."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from ..core.messages import Message


@dataclass(frozen=True)
class Turn:
    """One exchange: the user's message and the assistant's answer, produced by one cell (or panel send)."""

    key: str
    user: Message
    assistant: Message
    model: str = ""
    request_id: str | None = None
    status: str = "ok"  # ok | interrupted | incomplete
    usage: dict[str, int | None] = field(default_factory=dict)
    steps: tuple[Message, ...] = ()  # tool rounds: the assistant's calls and the tools' results, in order
    documents: tuple[str, ...] = ()  # file ids of the documents its own cell named (qwen-long's fileid://)
    about_documents: bool = False  # it was sent documents, its own or its chat's earlier ones

    def answer(self) -> Message:
        """The answer as context for later turns: a cut-short one keeps its marker, so the model knows."""
        if self.status == "ok":
            return self.assistant
        return replace(self.assistant, text=f"{self.assistant.text}\n\n[{self.status}]")


@dataclass
class Conversation:
    """The ordered turns of a named chat. Re-running a cell replaces its turn in place."""

    name: str
    turns: list[Turn] = field(default_factory=list)

    def position(self, key: str) -> int | None:
        """Index of the turn a cell produced, if any."""
        return next((i for i, turn in enumerate(self.turns) if turn.key == key), None)

    def context_for(self, key: str, model_prefix: str = "") -> tuple[Message, ...]:
        """Messages to send before a new prompt from this cell: every turn before the cell's own (only those of
        models named `model_prefix…`, when given)."""
        return tuple(m for turn in self._before(key) if turn.model.startswith(model_prefix)
                     for m in (turn.user, *turn.steps, turn.answer()))

    def documents_for(self, key: str) -> tuple[str, ...]:
        """The documents the cells before this one named, each once (a deleted cell's are gone with it)."""
        return tuple(dict.fromkeys(file_id for turn in self._before(key) for file_id in turn.documents))

    def document_reader(self, key: str) -> str | None:
        """The model of the turn just before the cell's own, if that turn was about documents (this one would
        follow up on them)."""
        earlier = self._before(key)
        return earlier[-1].model if earlier and earlier[-1].about_documents else None

    def _before(self, key: str) -> list[Turn]:
        index = self.position(key)
        return self.turns if index is None else self.turns[:index]

    def record(self, turn: Turn) -> int:
        """Put a turn in place of the cell's earlier one, or append it; returns its position."""
        index = self.position(turn.key)
        if index is None:
            self.turns.append(turn)
            return len(self.turns) - 1
        self.turns[index] = turn
        return index

    def forget(self, keys: set[str]) -> bool:
        """Drop the turns of deleted cells; True when something was removed."""
        before = len(self.turns)
        self.turns = [turn for turn in self.turns if turn.key not in keys]
        return len(self.turns) != before

    def messages(self) -> list[dict]:
        """All turns as plain message dicts (for export)."""
        return [m.to_dict() for turn in self.turns for m in (turn.user, *turn.steps, turn.assistant)]

    def tokens(self) -> int:
        return sum(turn.usage.get("total_tokens") or 0 for turn in self.turns)
