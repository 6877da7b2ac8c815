"""When a start counts as ignoring its input (the frame sweep's trigger), by hand."""

from flowpo.search.framesweep import at_chance


def _labels(*supports):
    return {f"l{i}": {"support": s} for i, s in enumerate(supports)}


def test_two_balanced_labels_need_two_standard_errors_above_one_half():
    two = _labels(16, 16)  # m = 0.5, se = sqrt(0.25 / 32) = 0.0884, bar = 0.6768
    assert at_chance(two, 0.5) and at_chance(two, 0.53125) and at_chance(two, 0.65625)
    assert not at_chance(two, 0.6875)
    assert at_chance(two, 0.6875, z=3.0)  # bar 0.765


def test_the_bar_is_the_commonest_label_rate_not_one_over_the_labels():
    skewed = _labels(22, 10)  # m = 0.6875, se = 0.0819, bar = 0.8513
    assert at_chance(skewed, 0.6875) and at_chance(skewed, 0.84375)
    assert not at_chance(skewed, 0.875)
    six = _labels(6, 6, 5, 5, 5, 5)  # m = 0.1875, se = 0.0690, bar = 0.3255 (TREC)
    assert at_chance(six, 0.25) and not at_chance(six, 0.34375)


def test_no_supports_or_one_label_is_never_at_chance():
    assert not at_chance({}, 0.0)
    assert not at_chance(_labels(32), 1.0)


def test_the_docstring_example_holds():
    import doctest

    import flowpo.search.framesweep as framesweep

    failed, attempted = doctest.testmod(framesweep)
    assert attempted and failed == 0


def test_the_sweep_screens_every_frame_alone_then_every_other_frame_framed():
    from flowpo.operators.framing import FRAMES
    from flowpo.prompt import Prompt, Section
    from flowpo.search.framesweep import sweep_variants

    start = Prompt(sections=(
        Section("task", "Classify the review."),
        Section("policy", "Never answer 'neutral'.", frozen=True),
        Section("examples", "Input: good\nOutput: positive"),
    ), verbalizers={"negative": "bad", "positive": "good"})
    own = FRAMES[-1]
    variants = sweep_variants(start, own)
    alone, framed = variants[: len(FRAMES)], variants[len(FRAMES) :]
    assert [v.template for v in alone] == list(FRAMES)  # the start's own frame too
    assert [v.template for v in framed] == [f for f in FRAMES if f != own]
    for v in alone:  # editable sections emptied (kept, so an edit can write them), frozen
        assert [(s.name, s.text) for s in v.sections] == [  # kept; the demonstrations,
            ("task", ""), ("policy", "Never answer 'neutral'.")]  # in the old frame, dropped
    for v in framed:
        assert v.text == "Classify the review.\n\nNever answer 'neutral'."
    assert all(v.verbalizers == start.verbalizers for v in variants)
    # a start with no instruction text is its frame alone already
    assert len(sweep_variants(Prompt(template=FRAMES[0]), own)) == len(FRAMES)


def test_only_frames_whose_domain_words_the_task_uses_are_swept():
    from flowpo.operators.framing import FRAMES, fits_task, library_frames
    from flowpo.prompt import Prompt
    from flowpo.search.framesweep import sweep_variants
    from flowpo.tasks import resolve_task

    review = FRAMES[0]  # Review: / Sentiment:
    rte = resolve_task("rte", seed=13)  # premise and hypothesis: neither a review nor a sentiment
    start = Prompt.from_text("Answer 'yes' if the premise entails the hypothesis.")
    frames = library_frames(rte, start)
    assert review not in frames and len(frames) == len(FRAMES) - 1
    assert all(p.template != review for p in sweep_variants(start, rte.template, frames))
    cr = resolve_task("cr", seed=13)  # "the sentiment of a customer review": both words
    assert library_frames(cr, Prompt.from_text("")) == list(FRAMES)
    # both words must be used: a review task that is not about sentiment gets no Sentiment:
    assert not fits_task(review, "Decide whether a movie-review sentence is subjective")
