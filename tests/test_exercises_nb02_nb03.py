"""Notebooks 02 and 03's exercises: the reference solutions agree with torch and labkit, every
wrong answer is rejected on every seed (not only on a lucky draw of random inputs), and each
predict-then-run cell lists the same options as its exercise."""

from __future__ import annotations

import math
from pathlib import Path

import nbformat
import pytest
import torch

from labkit import embeddings, exercises
from labkit.exercises import ChoiceExercise, ExplainExercise, nb02, nb03

MODULES = {"nb02": nb02, "nb03": nb03}
NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"


@pytest.mark.parametrize("module", [nb02, nb03], ids=["nb02", "nb03"])
def test_four_exercises_one_of_them_an_experiment(module) -> None:
    found = exercises.exercises_in(module)
    assert list(found) == ["q1", "q2", "q3", "q4"]
    assert isinstance(found["q3"], ChoiceExercise) and isinstance(found["q4"], ExplainExercise)
    assert found["q4"].points == 2 and all(1 <= ex.points <= 3 for ex in found.values())


def test_nb02_q1_is_torch_softmax() -> None:
    f = nb02.q1.reference_function()
    for seed in range(10):
        for (z,) in nb02.q1.inputs(seed=seed):
            expected = torch.softmax(torch.tensor(z, dtype=torch.float64), 0)
            assert torch.allclose(torch.tensor(f(z), dtype=torch.float64), expected, rtol=1e-12, atol=1e-300)


def _autograd(f, w: list[float]) -> torch.Tensor:
    """The exact gradient of one of q2's functions, rebuilt in torch (float64)."""
    t = torch.tensor(w, dtype=torch.float64, requires_grad=True)
    if f.name == "neuron":
        x = torch.tensor([0.5, -1.0, 2.0], dtype=torch.float64)
        value = (torch.tanh(t[:3] @ x + t[3]) - 0.3) ** 2
    elif f.name == "log_sum_exp":
        value = torch.logsumexp(t, 0)
    else:
        value = (100 * (t[1:] - t[:-1] ** 2) ** 2 + (1 - t[:-1]) ** 2).sum()
    assert math.isclose(value.item(), f(list(w)), rel_tol=1e-12)
    value.backward()
    return t.grad


def test_nb02_q2_is_the_gradient_and_the_given_code_is_half_of_it() -> None:
    f = nb02.q2.reference_function()
    namespace: dict = {}
    exec(nb02.Q2_BUGGY, namespace)
    buggy = namespace["numeric_grad_buggy"]
    for seed in range(10):
        for fn, w, h in nb02.q2.inputs(seed=seed):
            exact = _autograd(fn, list(w))
            got = torch.tensor(f(fn, w, h), dtype=torch.float64)
            # the central difference's error is of order h² (f''' is at most a few thousand here)
            assert torch.allclose(got, exact, rtol=1e-3, atol=1e-3 + 5e3 * h**2), (fn, w, h)
            as_list = list(w)
            f(fn, as_list, h)
            assert as_list == list(w)  # the caller's list is left as it was
    w = [0.1, 0.2, -0.3, 0.05]  # the notebook's example: the given code is about half of autograd
    exact = _autograd(nb02._NEURON, w)
    half = torch.tensor(buggy(nb02._NEURON, w, 1e-4), dtype=torch.float64)
    assert torch.allclose(half, exact / 2, rtol=1e-3)


def test_nb03_q1_is_labkits_sgns_loss() -> None:
    f = nb03.q1.reference_function()
    for seed in range(10):
        for v_c, u_o, u_negs in nb03.q1.inputs(seed=seed):
            d = len(v_c)
            neg = torch.tensor(u_negs, dtype=torch.float64).reshape(1, len(u_negs), d)
            expected = embeddings.sgns_loss(
                torch.tensor([v_c], dtype=torch.float64), torch.tensor([u_o], dtype=torch.float64), neg
            )
            assert math.isclose(f(v_c, u_o, u_negs), expected.item(), rel_tol=1e-9)


def test_nb03_q2_counts_what_skipgram_pairs_gives() -> None:
    expected = nb03.q2.expected_value()
    n = 100_000  # scaled down from q2's million words: the counts grow linearly with the text
    fixed, _ = embeddings.skipgram_pairs(torch.arange(n), window=5, dynamic=False)
    assert math.isclose(len(fixed) * 10, expected["fixed"], rel_tol=1e-3)
    g = torch.Generator().manual_seed(0)
    draws = [len(embeddings.skipgram_pairs(torch.arange(n), window=5, generator=g)[0]) for _ in range(5)]
    assert math.isclose(sum(draws) / len(draws) * 10, expected["dynamic"], rel_tol=3e-3)
    assert nb03.q2.score({"fixed": expected["fixed"], "dynamic": 0}) == 0.5  # one part right


@pytest.mark.parametrize(
    ("path", "module"),
    [("02_neural_networks.ipynb", nb02), ("03_embeddings.ipynb", nb03)],
    ids=["nb02", "nb03"],
)
def test_notebook_lists_the_options_and_has_the_answer_cell(path, module) -> None:
    nb = nbformat.read(NOTEBOOKS / path, as_version=4)
    text = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    for letter, option in module.q3.options.items():
        assert f"({letter}) {option}" in text, letter
    answer = [c for c in nb.cells if c.metadata.get("labkit", {}).get("exercise") == "q4"]
    assert len(answer) == 1 and answer[0].cell_type == "markdown"
    assert answer[0].source.strip() == "_Your answer:_"
    checks = [c.source for c in nb.cells if c.cell_type == "code" and "ex.q3.check" in c.source]
    assert checks == ['prediction_q3 = ...  # "a", "b", "c" or "d"\nex.q3.check(prediction_q3)']
