"""Evaluation asks for the same number of samples of every class, even when the held-out set is thin."""

from collections import Counter

from evaluation.image.metrics import per_class_prompts


class _Ex:
    def __init__(self, caption: str) -> None:
        self.caption = caption


def test_every_class_gets_the_requested_count_reusing_its_captions():
    labelled = [(_Ex("a 3"), 3), (_Ex("a 1"), 1), (_Ex("another 1"), 1), (_Ex("a third 1"), 1)]
    prompts = per_class_prompts(labelled, 2)
    assert Counter(y for _, y in prompts) == {1: 2, 3: 2}
    assert [e.caption for e, y in prompts if y == 3] == ["a 3", "a 3"]  # reused, since only one exists
    assert [e.caption for e, y in prompts if y == 1] == ["a 1", "another 1"]  # the first ones, in order


def test_absent_classes_are_not_invented():
    only_seven = (_Ex("a 7"), 7)
    assert per_class_prompts([only_seven], 3) == [only_seven] * 3
