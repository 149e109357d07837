"""Notebook 13's exercises: the reference solutions agree with labkit (lora, Zhao et al.'s
calibration), every wrong answer is rejected on every seed (not only on a lucky draw of random
inputs), and the experiment's right option is what labkit's adapter files do."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from labkit import exercises, lora
from labkit.exercises import ExplainExercise, nb13
from labkit.exercises.tensors import tensor_io


def test_four_exercises_one_of_them_an_experiment() -> None:
    assert list(exercises.exercises_in(nb13)) == ["q1", "q2", "q3", "q4"]
    assert isinstance(nb13.q3, exercises.ChoiceExercise) and isinstance(nb13.q4, ExplainExercise)
    assert sum(ex.points for ex in exercises.exercises_in(nb13).values()) == 7


def test_q1_is_labkits_lora_update() -> None:
    f = nb13.q1.reference_function()
    for a, b, alpha in nb13.q1.inputs(seed=2):
        base = torch.nn.Linear(len(a[0]), len(b), dtype=torch.float64)
        layer = lora.LoRALinear(base, r=len(a), alpha=alpha)
        with torch.no_grad():
            layer.lora_A.copy_(torch.tensor(a))
            layer.lora_B.copy_(torch.tensor(b))
        assert torch.allclose(torch.tensor(f(a, b, alpha), dtype=torch.float64), layer.delta_weight())


def test_q2_removes_the_content_free_prior() -> None:
    f = tensor_io(nb13.q2.reference_function())
    for seed in range(5):
        for scores, content_free in nb13.q2.inputs(seed=seed):
            s, c = torch.tensor(scores), torch.tensor(content_free)
            # dividing the probabilities by the content-free ones (Zhao et al.'s diagonal W) and
            # renormalising gives the same argmax
            p = F.softmax(s, 1) / F.softmax(c, 0)
            assert f(scores, content_free) == (p / p.sum(1, keepdim=True)).argmax(1).tolist()


def test_q2_first_edge_case_tells_division_from_subtraction() -> None:
    scores, prior = (torch.tensor(x) for x in nb13.q2.edge_cases[0])
    divided = (scores - prior).argmax(1)
    subtracted = (scores.exp() - prior.exp()).argmax(1)
    assert (divided != subtracted).sum() >= 2 and scores.shape[0] != scores.shape[1]


def _adapter_file(tmp_path, r: int, n_layer: int):
    """Section 8's adapter (q_proj 576 → 576, v_proj 576 → 192, top 4 blocks, alpha = 2r), saved."""
    from labkit.pretrained.llama import Llama, LlamaConfig

    model = Llama(LlamaConfig(vocab_size=8, block_size=8, n_layer=n_layer, n_head=9, n_kv_head=3,
                              n_embd=576, ffn_hidden=8))
    top = range(n_layer - 4, n_layer)
    lora.add_lora(model, [f"layers.{i}.self_attn.{p}" for i in top for p in ("q_proj", "v_proj")],
                  r=r, alpha=2.0 * r)
    trainable, _ = lora.count_parameters(model)
    return trainable, lora.save_lora(model, tmp_path / f"r{r}_{n_layer}.safetensors").stat().st_size


@pytest.mark.parametrize("n_layer", [4, 30], ids=["fast", "full"])
def test_q3_right_option_is_what_save_lora_writes(tmp_path, n_layer) -> None:
    """(c): about four times the bytes, a little under because of the fixed header."""
    assert nb13.q3.expected_value() == "c"
    small_params, small = _adapter_file(tmp_path, 4, n_layer)
    big_params, big = _adapter_file(tmp_path, 16, n_layer)
    assert small_params == 4 * 4 * ((576 + 576) + (576 + 192)) and big_params == 4 * small_params
    header = small - 4 * small_params
    assert 0 < header < 4096 and big - 4 * big_params < 4096
    assert 3.9 < big / small < 4  # not about the same (a), not +10 % (b), not 16× (d)
