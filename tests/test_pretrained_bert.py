"""Tests for labkit.pretrained.bert: equal to transformers.BertModel and sentence-transformers on
the real all-MiniLM-L6-v2 weights; WordPiece; the classifier, freezing and the Trainer; errors.

The weights come from the real cache (fetched once per run, see test_pretrained_registry.py).
transformers and sentence-transformers are the references, loaded from the fetched folder with
local files only.
"""

from __future__ import annotations

import dataclasses
import re

import pytest
import torch
import torch.nn.functional as F

from labkit import data
from labkit.pretrained import bert, registry
from labkit.pretrained.bert import (
    BertClassifier,
    BertConfig,
    BertModel,
    LinearClassifier,
    SentenceEncoder,
    Tokenizer,
)
from labkit.train import TrainConfig, Trainer

TEXTS = [
    "To be, or not to be, that is the question.",
    "Hello world!",
    "Unbelievably, the quick brown fox jumps over the lazy dog near Elsinore's battlements.",
    "Now is the winter of our discontent made glorious summer by this sun of York.",
]


@pytest.fixture(scope="module")
def folder(one_thread):
    return registry.fetch("all-minilm-l6-v2", progress=False)


@pytest.fixture(scope="module")
def model(folder):
    return BertModel.from_pretrained(folder)


@pytest.fixture(scope="module")
def tok(folder):
    return Tokenizer(folder)


@pytest.fixture(scope="module")
def hf(folder):
    transformers = pytest.importorskip("transformers")
    return transformers.BertModel.from_pretrained(
        str(folder), local_files_only=True, attn_implementation="eager"
    ).eval()


@pytest.fixture(scope="module")
def batch(tok):
    return tok(TEXTS)


# --------------------------------------------------------------------------------------------
# Equal to the references
# --------------------------------------------------------------------------------------------


def test_config_from_the_real_json(model):
    c = model.config
    assert (c.num_hidden_layers, c.hidden_size, c.num_attention_heads) == (6, 384, 12)
    assert (c.vocab_size, c.intermediate_size, c.hidden_act) == (30522, 1536, "gelu")
    assert model.num_params() == 22_713_216  # = transformers.BertModel's count (checked below)


def test_hidden_states_equal_transformers(model, hf, batch):
    with torch.no_grad():
        ours = model(**batch, output_attentions=True)
        ref = hf(**batch, output_hidden_states=True, output_attentions=True)
    assert model.num_params() == sum(p.numel() for p in hf.parameters())
    real = batch["attention_mask"].bool()
    assert len(ours.hidden_states) == len(ref.hidden_states) == 7
    for a, r in zip(ours.hidden_states, ref.hidden_states, strict=True):
        assert (a - r)[real].abs().max().item() <= 1e-4  # measured: 2.6e-6 at the last layer
    assert (ours.last_hidden_state - ref.last_hidden_state)[real].abs().max() <= 1e-4
    assert (ours.pooler_output - ref.pooler_output).abs().max() <= 1e-4
    for a, r in zip(ours.attentions, ref.attentions, strict=True):
        assert a.shape == r.shape == (4, 12, batch["input_ids"].shape[1], a.shape[-1])
        assert (a - r).abs().max() <= 1e-5


def test_equal_in_float64_everywhere_including_padding(model, hf, batch):
    """In float64 every position agrees to rounding: the same computation, not an approximation
    (in float32 the padded positions' meaningless vectors drift by up to ~1e-4)."""
    m64 = BertModel(model.config)
    m64.load_state_dict(model.state_dict())
    m64 = m64.double().eval()
    import copy

    hf64 = copy.deepcopy(hf).double()
    with torch.no_grad():
        diff = (m64(**batch).last_hidden_state - hf64(**batch).last_hidden_state).abs().max()
    assert diff <= 1e-10


def test_sentence_embeddings_equal_sentence_transformers(folder, model, tok):
    st = pytest.importorskip("sentence_transformers")
    ref_model = st.SentenceTransformer(str(folder), device="cpu", local_files_only=True)
    long_text = " ".join(["Once more unto the breach, dear friends, once more;"] * 60)
    texts = [*TEXTS, long_text]  # the long one is cut at 256 tokens by both
    ref = ref_model.encode(texts, convert_to_tensor=True, batch_size=2)
    ours = SentenceEncoder(model, tok).encode(texts, batch_size=2)
    cos = F.cosine_similarity(ours, ref.cpu().float())
    assert cos.min() >= 0.9999
    assert torch.allclose(ours.norm(dim=1), torch.ones(len(texts)), atol=1e-5)


def test_fast_and_reference_attention_agree(folder, model, batch):
    ref = BertModel.from_pretrained(folder, attn_impl="reference")
    with torch.no_grad():
        a, b = model(**batch).last_hidden_state, ref(**batch).last_hidden_state
    real = batch["attention_mask"].bool()
    assert (a - b)[real].abs().max() <= 1e-5


def test_padding_does_not_change_a_sentence(model, tok):
    alone = tok(TEXTS[1])
    padded = tok(TEXTS[:2])
    n = int(alone["attention_mask"].sum())
    with torch.no_grad():
        a = model(**alone).last_hidden_state[0]
        b = model(**padded).last_hidden_state[1, :n]
    assert (a - b).abs().max() <= 1e-5


def test_fewer_layers_give_the_intermediate_states(folder, model, batch):
    two = BertModel.from_pretrained(folder, num_layers=2)
    assert len(two.layers) == 2
    with torch.no_grad():
        a = two(**batch).last_hidden_state
        b = model(**batch).hidden_states[2]
    assert torch.allclose(a, b, atol=1e-6)
    with pytest.raises(ValueError, match="num_layers must be at most the model's 6 layers, got 7"):
        BertModel.from_pretrained(folder, num_layers=7)


# --------------------------------------------------------------------------------------------
# Tokenisation
# --------------------------------------------------------------------------------------------


def test_wordpiece_by_hand_equals_the_tokenizer(tok):
    words = sorted(
        {w for w in re.findall(r"[a-z]+", data.load_text(progress=False)[:200_000].lower())}
    )
    assert len(words) > 3000
    for w in words:
        assert bert.wordpiece(w, tok.vocab) == tok.tokenize(w)[1:-1], w
    assert bert.wordpiece("unbelievably", tok.vocab) == ["un", "##bel", "##ie", "##va", "##bly"]
    assert bert.wordpiece("a" * 101, tok.vocab) == ["[UNK]"]
    assert bert.wordpiece("x\u2603", {"x"}) == ["[UNK]"]  # a piece missing from the vocabulary


def test_tokenizer_pads_masks_and_truncates(folder, tok):
    out = tok(["Hello world!", "To be or not to be"])
    ids, mask = out["input_ids"], out["attention_mask"]
    assert ids.shape == mask.shape == out["token_type_ids"].shape == (2, 8)
    assert mask.sum(dim=1).tolist() == [5, 8]
    assert ids[0, 5:].tolist() == [tok.pad_id] * 3
    assert tok.tokenize("Hello world!") == ["[CLS]", "hello", "world", "!", "[SEP]"]
    assert tok.decode(ids[0, :5]) == "hello world!"
    short = Tokenizer(folder, max_length=6)
    cut = short(["one two three four five six seven eight"])
    assert cut["input_ids"].shape == (1, 6)
    assert short.tokenize("one two three four five six seven eight")[-1] == "[SEP]"
    with pytest.raises(TypeError, match=r"texts\[1\] must be a str, got int"):
        tok(["fine", 3])
    with pytest.raises(ValueError, match="texts must be a str or a non-empty list"):
        tok([])
    with pytest.raises(ValueError, match="max_length must be a positive int, got 0"):
        Tokenizer(folder, max_length=0)


def test_encode_keeps_the_order_given(model, tok):
    enc = SentenceEncoder(model, tok)
    together = enc.encode(TEXTS, batch_size=3)
    one_by_one = torch.cat([enc.encode(t) for t in TEXTS])
    assert torch.allclose(together, one_by_one, atol=1e-5)
    model.train()  # dropout on: encode still switches it off, and puts the mode back
    try:
        assert torch.allclose(enc.encode(TEXTS, batch_size=3), together, atol=1e-6)
        assert model.training
    finally:
        model.eval()


def test_mean_pool_ignores_padding():
    h = torch.randn(2, 4, 3)
    mask = torch.tensor([[1, 1, 0, 0], [1, 1, 1, 1]])
    out = bert.mean_pool(h, mask)
    assert torch.allclose(out[0], h[0, :2].mean(0))
    assert torch.allclose(out[1], h[1].mean(0))
    assert torch.equal(bert.mean_pool(h, torch.zeros(2, 4)), torch.zeros(2, 3))
    with pytest.raises(ValueError, match=r"attention_mask must be a tensor of shape \(2, 4\)"):
        bert.mean_pool(h, mask[:, :3])
    with pytest.raises(ValueError, match="hidden must be a"):
        bert.mean_pool(h[0], mask)


# --------------------------------------------------------------------------------------------
# Clear errors
# --------------------------------------------------------------------------------------------


def test_bad_inputs_are_named(model, batch):
    ids, mask = batch["input_ids"], batch["attention_mask"]
    with pytest.raises(TypeError, match="input_ids must be an integer tensor"):
        model(ids.float())
    with pytest.raises(ValueError, match=r"shape \(batch, time\).*add a batch dimension"):
        model(ids[0])
    with pytest.raises(ValueError, match="input_ids must hold token ids in \\[0, 30522\\)"):
        model(ids + 30522)
    with pytest.raises(ValueError, match="attention_mask must have the shape of input_ids"):
        model(ids, mask[:, :-1])
    with pytest.raises(ValueError, match="attention_mask must hold only 0"):
        model(ids, mask * 2)
    with pytest.raises(TypeError, match="attention_mask must be an integer or bool tensor"):
        model(ids, mask.float())
    with pytest.raises(ValueError, match="token_type_ids must hold segment ids in \\[0, 2\\)"):
        model(ids, mask, torch.full_like(ids, 2))
    with pytest.raises(ValueError, match="token_type_ids must have the shape"):
        model(ids, mask, ids[:, :2])


def test_too_long_input_is_refused(model):
    ids = torch.ones(1, 513, dtype=torch.long)
    with pytest.raises(ValueError, match="513 tokens per sequence, more than this model's "):
        model(ids)


def test_unknown_name_and_bad_folder(tmp_path):
    with pytest.raises(ValueError, match="registered model name .*all-minilm-l6-v2") as err:
        BertModel.from_pretrained("bert-base-uncased")
    assert "config.json and model.safetensors" in str(err.value)
    with pytest.raises(ValueError, match="folder holding config.json"):
        BertModel.from_pretrained(tmp_path)
    with pytest.raises(TypeError, match="name_or_path must be a model name or a folder"):
        BertModel.from_pretrained(3)  # type: ignore[arg-type]


def test_weight_mapping_errors(model):
    assert bert.hf_key("bert.encoder.layer.3.attention.self.query.bias") == (
        "layers.3.attn.q_proj.bias"
    )
    assert bert.hf_key("embeddings.position_ids") is None
    with pytest.raises(KeyError, match="cls.predictions.bias"):
        bert.hf_key("cls.predictions.bias")
    state = {k: v for k, v in _hf_state(model).items() if "layer.5.output.dense" not in k}
    with pytest.raises(KeyError, match="the weights lack 2 tensors"):
        BertModel(model.config).load_hf_state_dict(state)
    state = _hf_state(model)
    state["pooler.dense.bias"] = torch.zeros(3)
    with pytest.raises(ValueError, match=r"weight 'pooler.dense.bias' has shape \(3,\)"):
        BertModel(model.config).load_hf_state_dict(state)


def _hf_state(model: BertModel) -> dict[str, torch.Tensor]:
    """The real weights file, under Hugging Face's names."""
    from safetensors.torch import load_file

    return load_file(registry.fetch("all-minilm-l6-v2", progress=False) / "model.safetensors")


def test_config_errors(tmp_path):
    with pytest.raises(ValueError, match="hidden_size must be divisible by num_attention_heads=5"):
        BertConfig(hidden_size=384, num_attention_heads=5)
    with pytest.raises(ValueError, match="hidden_act must be one of"):
        BertConfig(hidden_act="swish")
    path = tmp_path / "config.json"
    path.write_text('{"model_type": "roberta"}')
    with pytest.raises(ValueError, match="describes a 'roberta' model, not a BERT"):
        BertConfig.from_json(path)


# --------------------------------------------------------------------------------------------
# Classification head, freezing, the Trainer
# --------------------------------------------------------------------------------------------

SMALL = BertConfig(
    vocab_size=50,
    hidden_size=16,
    num_hidden_layers=3,
    num_attention_heads=2,
    intermediate_size=32,
    max_position_embeddings=12,
    hidden_dropout_prob=0.0,
    attention_probs_dropout_prob=0.0,
)


def test_classifier_shapes_loss_and_freezing(model, batch):
    clf = BertClassifier(model, num_classes=3, dropout=0.0)
    ids, mask = batch["input_ids"], batch["attention_mask"]
    y = torch.tensor([0, 1, 2, 1])
    logits, loss = clf(ids, mask, y)
    assert logits.shape == (4, 3)
    assert torch.allclose(loss, F.cross_entropy(logits, y))
    head = 384 * 3 + 3
    assert clf.freeze_encoder() == head
    per_layer = sum(p.numel() for p in model.layers[0].parameters())
    assert clf.freeze_encoder(train_top_layers=2) == head + 2 * per_layer
    clf.zero_grad()
    clf(ids, mask, y)[1].backward()
    assert model.layers[3].attn.q_proj.weight.grad is None
    assert model.embeddings.word.weight.grad is None
    assert model.layers[5].mlp.fc.weight.grad is not None
    assert clf.head.weight.grad is not None
    assert clf.unfreeze() == model.num_params() + head
    clf.zero_grad()
    for pooling in ("cls", "pooler"):
        other = BertClassifier(model, 2, pooling=pooling)
        assert other(ids, mask)[0].shape == (4, 2)


def test_classifier_errors(model, batch):
    clf = BertClassifier(model, num_classes=3)
    ids, mask = batch["input_ids"], batch["attention_mask"]
    with pytest.raises(ValueError, match=r"targets must have shape \(batch,\) = \(4,\)"):
        clf(ids, mask, torch.zeros(4, 1, dtype=torch.long))
    with pytest.raises(ValueError, match=r"targets must hold labels in \[0, 3\)"):
        clf(ids, mask, torch.tensor([0, 1, 2, 3]))
    with pytest.raises(TypeError, match="targets must be an integer tensor"):
        clf(ids, mask, torch.zeros(4))
    with pytest.raises(ValueError, match="num_classes must be at least 2"):
        BertClassifier(model, 1)
    with pytest.raises(ValueError, match="pooling must be one of"):
        BertClassifier(model, 2, pooling="max")
    with pytest.raises(ValueError, match=r"train_top_layers must be an int in \[0, 6\], got 7"):
        clf.freeze_encoder(7)
    with pytest.raises(TypeError, match="encoder must be a BertModel"):
        BertClassifier(torch.nn.Linear(2, 2), 2)  # type: ignore[arg-type]


def _toy_task(n: int, seed: int) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
    """Label 1 when token 7 occurs in the sequence: learnable only by looking at the tokens."""
    g = torch.Generator().manual_seed(seed)
    lengths = torch.randint(3, 11, (n,), generator=g)
    ids = torch.randint(10, 50, (n, 10), generator=g)
    y = torch.randint(0, 2, (n,), generator=g)
    pos = (torch.rand(n, generator=g) * (lengths - 1)).long() + 1
    ids[y == 1, pos[y == 1]] = 7
    mask = (torch.arange(10)[None, :] < lengths[:, None]).long()
    ids = ids * mask  # padding id 0
    return {"input_ids": ids, "attention_mask": mask}, y


def test_trainer_fine_tunes_the_top_layer_only(one_thread):
    torch.manual_seed(0)
    encoder = BertModel(SMALL)
    clf = BertClassifier(encoder, 2, dropout=0.0)
    clf.freeze_encoder(train_top_layers=1)
    frozen = {k: v.clone() for k, v in encoder.state_dict().items() if not k.startswith("layers.2")}
    top = encoder.layers[2].mlp.fc.weight.clone()
    train, val = _toy_task(512, 0), _toy_task(256, 1)
    cfg = TrainConfig(max_steps=150, batch_size=32, lr=3e-3, eval_every=50, progress=False)
    trainer = Trainer(
        clf, config=cfg, device="cpu", batch_fn=bert.classification_batches(train, val, 32)
    )
    history = trainer.fit()
    assert history["val_loss"].dropna().iloc[-1] < 0.5 * history["train_loss"].iloc[0]
    accuracy = (bert.predict(clf, val[0], batch_size=50) == val[1]).float().mean()
    assert accuracy > 0.9
    for k, v in encoder.state_dict().items():
        if k in frozen:
            assert torch.equal(v, frozen[k]), k
    assert not torch.equal(encoder.layers[2].mlp.fc.weight, top)


def test_linear_classifier_on_features_with_the_trainer(one_thread):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(400, 8, generator=g)
    y = (x[:, 0] + 0.5 * x[:, 1] > 0).long()
    clf = LinearClassifier(8, 2)
    cfg = TrainConfig(max_steps=200, batch_size=64, lr=0.05, eval_every=100, progress=False)
    batches = bert.classification_batches((x[:300], y[:300]), (x[300:], y[300:]))
    Trainer(clf, config=cfg, device="cpu", batch_fn=batches).fit()
    assert (bert.predict(clf, x[300:]) == y[300:]).float().mean() > 0.95
    with pytest.raises(ValueError, match=r"x must be a \(batch, 8\) float tensor"):
        clf(x[:, :3])


def test_classification_batches_checks_and_trims():
    inputs, y = _toy_task(20, 0)
    fn = bert.classification_batches((inputs, y), (inputs, y), batch_size=5)
    (ids, mask), labels = fn("train", torch.Generator().manual_seed(0))
    assert ids.shape == mask.shape and ids.shape[0] == 5 and labels.shape == (5,)
    assert ids.shape[1] == int(mask.sum(dim=1).max())  # cut to the longest row
    rows = [i for i in range(20) if torch.equal(inputs["input_ids"][i, : ids.shape[1]], ids[0])]
    assert rows and y[rows[0]] == labels[0]  # an example keeps its label
    with pytest.raises(ValueError, match=r"val labels must be a 1-D tensor with one label per "):
        bert.classification_batches((inputs, y), (inputs, y[:3]))
    with pytest.raises(TypeError, match="train must be a pair"):
        bert.classification_batches([inputs, y], (inputs, y))  # type: ignore[arg-type]


def test_a_random_bert_is_a_transformers_bert_too(one_thread):
    """The same code with random weights (the from-scratch baseline) still matches transformers."""
    transformers = pytest.importorskip("transformers")
    torch.manual_seed(0)
    ours = BertModel(SMALL).eval()
    cfg = transformers.BertConfig(
        **{
            f.name: getattr(SMALL, f.name)
            for f in dataclasses.fields(SMALL)
            if f.name != "attn_impl"
        }
    )
    ref = transformers.BertModel(cfg).eval()
    state = {}
    for k in ref.state_dict():
        new = bert.hf_key(k)
        if new is not None:
            state[k] = ours.state_dict()[new]
    ref.load_state_dict(state, strict=False)
    inputs, _ = _toy_task(4, 3)
    with torch.no_grad():
        a = ours(**inputs).last_hidden_state
        b = ref(**inputs).last_hidden_state
    real = inputs["attention_mask"].bool()
    assert (a - b)[real].abs().max() <= 1e-5
