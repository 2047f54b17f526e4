"""Questions-first order: every prompted example (questions) before the documents in each
epoch, each part shuffled reproducibly; the plain shuffle otherwise."""

from __future__ import annotations

from core.finetune.config import LoraSettings
from core.finetune.data import IGNORE_INDEX, TrainExample
from core.finetune.train import _encode, epoch_order


def test_epoch_order_puts_the_first_part_first_and_shuffles_each_part():
    for epoch in range(3):
        order = epoch_order(7, 3, seed=0, epoch=epoch)
        assert sorted(order[:3]) == [0, 1, 2] and sorted(order[3:]) == [3, 4, 5, 6]
    assert epoch_order(7, 3, seed=0, epoch=0) == epoch_order(7, 3, seed=0, epoch=0)
    assert len({tuple(epoch_order(7, 0, seed=0, epoch=e)) for e in range(5)}) > 1


def _examples() -> list[TrainExample]:
    docs = [TrainExample("", f"Document {i} says the ferry leaves at 0{i}:40.", "chunk")
            for i in range(6)]
    questions = [TrainExample(f"When does ferry {i} leave?", f"0{i}:40", "wh-question")
                 for i in range(6)]
    return [x for pair in zip(docs, questions, strict=True) for x in pair]  # interleaved


def _is_question(row: list[int]) -> bool:
    return row[1] == IGNORE_INDEX  # packed: only a prompt masks the second label too


def test_questions_first_packs_questions_apart_and_every_epoch_starts_with_them(
        tiny_tokenizer):
    settings = LoraSettings(order="questions-first", batch_size=2, micro_batch_size=2,
                            max_length=48)
    data = _encode(_examples(), tiny_tokenizer, settings, is_seq2seq=False)
    assert 0 < data.first < len(data.units)
    assert all(_is_question(u["labels"]) for u in data.units[:data.first])
    assert not any(_is_question(u["labels"]) for u in data.units[data.first:])
    for epoch in range(2):
        rows = [row for part in data.epoch_batches(epoch)
                for row in part["labels"].tolist()]
        flags = [_is_question(r) for r in rows]
        assert flags == sorted(flags, reverse=True)  # all questions, then all documents


def test_shuffled_order_has_no_first_part(tiny_tokenizer):
    data = _encode(_examples(), tiny_tokenizer, LoraSettings(order="shuffled", max_length=48),
                   is_seq2seq=False)
    assert data.first == 0
