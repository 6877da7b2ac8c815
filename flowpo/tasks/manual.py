"""The manual prompt of each task: the hand-written baseline every optimizer starts from."""

from __future__ import annotations

from flowpo.tasks.task import Task

_GLUE = {
    "sst2": "In this task, you are given a sentence from a movie review. Answer 'yes' if the "
    "sentiment of the review is positive and 'no' if it is negative.",
    "mrpc": "Given two sentences, answer 'Yes' if they are paraphrases of each other, that "
    "is, they mean the same thing, and 'No' otherwise.",
    "rte": "Given a premise and a hypothesis, answer 'yes' if the premise entails the "
    "hypothesis and 'no' if it does not.",
    "qnli": "Given a question and a sentence, answer 'yes' if the sentence contains the "
    "answer to the question and 'no' if it does not.",
    "mnli": "Given a premise and a hypothesis, answer 'Yes' if the premise entails the "
    "hypothesis, 'No' if it contradicts it, and 'Maybe' if neither.",
    "snli": "Given a premise and a hypothesis, answer 'Yes' if the premise entails the "
    "hypothesis, 'No' if it contradicts it, and 'Maybe' if neither.",
}


def manual_prompt(task: Task, reference_prompts: list[str] | None = None) -> str:
    """Return the task's manual prompt.

    GLUE tasks have hand-written ones naming their label words; tasks with reference
    instructions (instruction induction, BIG-bench) use the first; others are written
    from the task's description and label words.
    """
    if task.name in _GLUE:
        return _GLUE[task.name]
    if reference_prompts:
        return reference_prompts[0].strip()
    head = task.description.strip().rstrip(".") or f"Solve the {task.name} task"
    if task.kind != "classification":
        return f"{head}."
    words = ", ".join(f"'{task.verbalizers[lab]}' for {lab}" for lab in task.labels)
    return f"{head}. Answer with one word: {words}."
