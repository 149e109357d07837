"""BERT: a bidirectional Transformer encoder (Devlin et al. 2019), built from labkit's attention.

For WordPiece ids ``x`` of shape ``(B, T)`` with ``T ≤ max_position_embeddings``, an attention
mask ``m`` (1 = real token, 0 = padding) and segment ids ``s`` (0 for a first sentence, 1 for a
second):

    h₀ = LN_emb(E[x] + P[0:T] + S[s])                   word + position + token-type embeddings
    for each of the L layers (post-LayerNorm, as in the original Transformer and BERT):
        a = LN₁(h + Dropout(MultiHead(h, h, h; mask = m)))   every token sees every real token
        h = LN₂(a + Dropout(GELU(a W₁ + b₁) W₂ + b₂))
    pooled = tanh(h[:, 0] W_p + b_p)                    the "pooler" on the [CLS] token

Unlike GPT (``labkit.gpt``) there is no causal mask: an encoder reads the whole sentence at
once, so each token's vector depends on its left *and* right context. Padding keys are masked
(``labkit.attention.padding_mask``), so a sentence gets the same vectors whatever it is padded
to. GELU is the exact ``x·Φ(x)`` (BERT's ``"gelu"``), not GPT-2's tanh approximation.

**Sentence embeddings** (Reimers & Gurevych 2019, sentence-transformers): the mean of the last
layer's token vectors over the real tokens, scaled to length 1,

    e = v / ‖v‖₂   with   v = Σ_t m_t h_t / Σ_t m_t

so that the cosine similarity of two sentences is the dot product of their embeddings.

**Tokenisation** is WordPiece: lower-case, split on white space and punctuation, then cut each
word greedily into the longest pieces found in the vocabulary (``wordpiece``), pieces after the
first marked ``##``; ``[CLS]`` first, ``[SEP]`` last. ``Tokenizer`` runs the same thing with the
fast ``tokenizers`` library and pads a batch.

**Weights**: ``BertModel.from_pretrained("all-minilm-l6-v2")`` reads ``config.json`` and
``model.safetensors`` in Hugging Face's layout (``encoder.layer.{i}.attention.self.query`` →
``layers.{i}.attn.q_proj``, ...; see ``hf_key``). Tested equal to ``transformers.BertModel`` on
the same weights (hidden states within 1e-4) and to ``sentence-transformers`` (cosine ≥ 0.9999).

**Fine-tuning**: ``BertClassifier`` puts a linear head on the pooled sentence vector and follows
labkit's ``model(x, targets) -> (logits, loss)`` convention, so ``labkit.train.Trainer`` trains it
(``batch_fn`` giving ``((input_ids, attention_mask), labels)``); ``freeze_encoder`` trains only
the head, or the head and the top layers.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from labkit.attention import IMPLS, MultiHeadAttention

__all__ = [
    "BertClassifier",
    "BertConfig",
    "BertModel",
    "BertOutput",
    "LinearClassifier",
    "SentenceEncoder",
    "Tokenizer",
    "classification_batches",
    "freeze",
    "hf_key",
    "mean_pool",
    "predict",
    "semantic_search",
    "unfreeze",
    "wordpiece",
]

ACTIVATIONS = ("gelu", "gelu_new", "gelu_pytorch_tanh", "relu")
POOLINGS = ("mean", "cls", "pooler")


def _describe(x: object) -> str:
    if isinstance(x, torch.Tensor):
        return f"a {x.dtype} tensor of shape {tuple(x.shape)}"
    return f"{type(x).__name__} ({x!r})"


def _positive_int(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")
    return value


# ------------------------------------------------------------------------------------ config


@dataclass
class BertConfig:
    """Sizes of a :class:`BertModel`, with the field names of Hugging Face's ``config.json``.

    - ``vocab_size`` V, ``hidden_size`` d, ``num_hidden_layers`` L, ``num_attention_heads`` h
      (must divide d), ``intermediate_size`` (the MLP's width, 4·d in BERT).
    - ``max_position_embeddings``: the longest input (rows of the position table);
      ``type_vocab_size``: the number of segments (2: sentence A and B).
    - ``hidden_act``: ``"gelu"`` (exact), ``"gelu_new"``/``"gelu_pytorch_tanh"`` (tanh
      approximation) or ``"relu"``; ``layer_norm_eps``; the two dropout rates.
    - ``attn_impl``: ``"fast"`` (fused kernel) or ``"reference"`` (the formula); attention maps
      are returned either way (see :meth:`BertModel.forward`).
    """

    vocab_size: int = 30522
    hidden_size: int = 768
    num_hidden_layers: int = 12
    num_attention_heads: int = 12
    intermediate_size: int = 3072
    max_position_embeddings: int = 512
    type_vocab_size: int = 2
    hidden_act: str = "gelu"
    layer_norm_eps: float = 1e-12
    hidden_dropout_prob: float = 0.1
    attention_probs_dropout_prob: float = 0.1
    pad_token_id: int = 0
    attn_impl: str = "fast"

    def __post_init__(self) -> None:
        for name in (
            "vocab_size",
            "hidden_size",
            "num_hidden_layers",
            "num_attention_heads",
            "intermediate_size",
            "max_position_embeddings",
            "type_vocab_size",
        ):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"BertConfig.{name} must be a positive int; got {v!r}")
        if self.hidden_size % self.num_attention_heads:
            raise ValueError(
                f"BertConfig.hidden_size must be divisible by num_attention_heads="
                f"{self.num_attention_heads}; got {self.hidden_size}"
            )
        if self.hidden_act not in ACTIVATIONS:
            raise ValueError(
                f"BertConfig.hidden_act must be one of {ACTIVATIONS}; got {self.hidden_act!r}"
            )
        for name in ("hidden_dropout_prob", "attention_probs_dropout_prob"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int | float) or not 0 <= v < 1:
                raise ValueError(f"BertConfig.{name} must be a number in [0, 1); got {v!r}")
        if self.attn_impl not in IMPLS:
            raise ValueError(f"BertConfig.attn_impl must be one of {IMPLS}; got {self.attn_impl!r}")

    @classmethod
    def from_json(cls, path: str | os.PathLike[str], **overrides: Any) -> BertConfig:
        """Read a Hugging Face ``config.json`` (keys labkit does not use are ignored)."""
        raw = json.loads(Path(path).read_text(encoding="utf-8"))
        if raw.get("model_type", "bert") != "bert":
            raise ValueError(f"{path} describes a {raw['model_type']!r} model, not a BERT")
        if raw.get("position_embedding_type", "absolute") != "absolute":
            raise ValueError(
                f"{path}: only absolute position embeddings are supported; got "
                f"{raw['position_embedding_type']!r}"
            )
        fields = {f.name for f in dataclasses.fields(cls)}
        values = {k: v for k, v in raw.items() if k in fields}
        unknown = sorted(set(overrides) - fields)
        if unknown:
            raise TypeError(f"BertConfig has no field(s) {unknown}; fields are {sorted(fields)}")
        return cls(**{**values, **overrides})


# ------------------------------------------------------------------------------------ model


@dataclass
class BertOutput:
    """What :class:`BertModel` returns (the names follow ``transformers``).

    - ``last_hidden_state``: ``(B, T, d)``, the last layer's token vectors;
    - ``pooler_output``: ``(B, d)``, ``tanh(h[:, 0] W_p + b_p)``;
    - ``hidden_states``: the embeddings and every layer's output, ``L + 1`` tensors ``(B, T, d)``;
    - ``attentions``: only when asked for, ``L`` tensors ``(B, h, T, T)`` (rows sum to 1).
    """

    last_hidden_state: torch.Tensor
    pooler_output: torch.Tensor
    hidden_states: tuple[torch.Tensor, ...]
    attentions: tuple[torch.Tensor, ...] | None = None


class BertEmbeddings(nn.Module):
    """``LN(E[x] + P[0:T] + S[s])``, then dropout."""

    def __init__(self, config: BertConfig) -> None:
        super().__init__()
        d = config.hidden_size
        self.word = nn.Embedding(config.vocab_size, d, padding_idx=config.pad_token_id)  # E
        self.position = nn.Embedding(config.max_position_embeddings, d)  # P (learned)
        self.token_type = nn.Embedding(config.type_vocab_size, d)  # S
        self.ln = nn.LayerNorm(d, eps=config.layer_norm_eps)
        self.drop = nn.Dropout(config.hidden_dropout_prob)

    def forward(self, input_ids: torch.Tensor, token_type_ids: torch.Tensor) -> torch.Tensor:
        T = input_ids.shape[1]
        positions = torch.arange(T, device=input_ids.device)
        x = self.word(input_ids) + self.position(positions) + self.token_type(token_type_ids)
        return self.drop(self.ln(x))


class BertMLP(nn.Module):
    """``GELU(x W₁ + b₁) W₂ + b₂`` (width ``intermediate_size``)."""

    def __init__(self, config: BertConfig) -> None:
        super().__init__()
        self.fc = nn.Linear(config.hidden_size, config.intermediate_size)  # W₁
        act = config.hidden_act
        if act == "gelu":
            self.act: nn.Module = nn.GELU()  # exact: x·Φ(x)
        elif act == "relu":
            self.act = nn.ReLU()
        else:
            self.act = nn.GELU(approximate="tanh")
        self.proj = nn.Linear(config.intermediate_size, config.hidden_size)  # W₂

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(self.act(self.fc(x)))


class BertLayer(nn.Module):
    """One post-LayerNorm block: ``a = LN₁(h + attn(h))``, ``h' = LN₂(a + mlp(a))``."""

    def __init__(self, config: BertConfig) -> None:
        super().__init__()
        d = config.hidden_size
        self.attn = MultiHeadAttention(
            d,
            config.num_attention_heads,
            dropout=config.attention_probs_dropout_prob,
            impl=config.attn_impl,
        )
        self.ln1 = nn.LayerNorm(d, eps=config.layer_norm_eps)
        self.mlp = BertMLP(config)
        self.ln2 = nn.LayerNorm(d, eps=config.layer_norm_eps)
        self.drop = nn.Dropout(config.hidden_dropout_prob)

    def forward(
        self, h: torch.Tensor, mask: torch.Tensor | None, return_weights: bool = False
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        weights = None
        if return_weights:
            with _reference_attention(self.attn):
                out, weights = self.attn(h, mask=mask, return_weights=True)
        else:
            out = self.attn(h, mask=mask)
        a = self.ln1(h + self.drop(out))
        return self.ln2(a + self.drop(self.mlp(a))), weights


@contextlib.contextmanager
def _reference_attention(attn: MultiHeadAttention) -> Iterator[None]:
    """Use the written-out formula for one call (the fused kernel never forms the weights)."""
    before = attn.impl
    attn.impl = "reference"
    try:
        yield
    finally:
        attn.impl = before


def hf_key(key: str) -> str | None:
    """The labkit parameter name for a Hugging Face BERT weight name (``None``: not used).

    ``embeddings.word_embeddings.weight`` → ``embeddings.word.weight``;
    ``encoder.layer.3.attention.self.query.bias`` → ``layers.3.attn.q_proj.bias``; ...
    A ``bert.`` prefix (checkpoints of BERT with a task head) is dropped.
    """
    if key.startswith("bert."):
        key = key[len("bert.") :]
    if key == "embeddings.position_ids":
        return None  # a constant 0..max-1 buffer, not a weight
    emb = {
        "embeddings.word_embeddings.": "embeddings.word.",
        "embeddings.position_embeddings.": "embeddings.position.",
        "embeddings.token_type_embeddings.": "embeddings.token_type.",
        "embeddings.LayerNorm.": "embeddings.ln.",
        "pooler.dense.": "pooler.",
    }
    for old, new in emb.items():
        if key.startswith(old):
            return new + key[len(old) :]
    parts = key.split(".")
    if parts[:2] == ["encoder", "layer"] and len(parts) >= 5:
        i, rest, leaf = parts[2], ".".join(parts[3:-1]), parts[-1]
        inner = {
            "attention.self.query": "attn.q_proj",
            "attention.self.key": "attn.k_proj",
            "attention.self.value": "attn.v_proj",
            "attention.output.dense": "attn.out_proj",
            "attention.output.LayerNorm": "ln1",
            "intermediate.dense": "mlp.fc",
            "output.dense": "mlp.proj",
            "output.LayerNorm": "ln2",
        }.get(rest)
        if inner is not None:
            return f"layers.{i}.{inner}.{leaf}"
    raise KeyError(f"{key!r} is not a BERT encoder weight labkit knows")


class BertModel(nn.Module):
    """A BERT encoder: ``BertModel(BertConfig(...))`` or ``BertModel.from_pretrained(name)``."""

    config_class = BertConfig

    def __init__(self, config: BertConfig) -> None:
        super().__init__()
        if not isinstance(config, BertConfig):
            raise TypeError(f"config must be a BertConfig, got {type(config).__name__}")
        self.config = config
        self.embeddings = BertEmbeddings(config)
        self.layers = nn.ModuleList(BertLayer(config) for _ in range(config.num_hidden_layers))
        self.pooler = nn.Linear(config.hidden_size, config.hidden_size)  # W_p on [CLS]
        self.apply(self._init_weights)

    @staticmethod
    def _init_weights(module: nn.Module) -> None:
        """BERT's initialisation: weights ~ N(0, 0.02²), biases 0, LayerNorm gain 1."""
        if isinstance(module, nn.Linear | nn.Embedding):
            nn.init.normal_(module.weight, std=0.02)
        if isinstance(module, nn.Linear) and module.bias is not None:
            nn.init.zeros_(module.bias)

    def num_params(self) -> int:
        return sum(p.numel() for p in self.parameters())

    # ------------------------------------------------------------------------------ inputs

    def check_inputs(
        self,
        input_ids: object,
        attention_mask: object = None,
        token_type_ids: object = None,
    ) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor]:
        """Validate the three inputs; returns them with defaults filled in (token types 0)."""
        c = self.config
        if not isinstance(input_ids, torch.Tensor) or input_ids.dtype not in (
            torch.long,
            torch.int,
        ):
            raise TypeError(
                f"input_ids must be an integer tensor of token ids, got {_describe(input_ids)}"
            )
        if input_ids.dim() != 2:
            raise ValueError(
                f"input_ids must have shape (batch, time), got shape {tuple(input_ids.shape)}"
                + ("; add a batch dimension: input_ids[None]" if input_ids.dim() == 1 else "")
            )
        B, T = input_ids.shape
        if T > c.max_position_embeddings:
            raise ValueError(
                f"input_ids has {T} tokens per sequence, more than this model's "
                f"max_position_embeddings={c.max_position_embeddings}; truncate the text "
                "(Tokenizer(max_length=...)) or split it"
            )
        if T == 0 or B == 0:
            raise ValueError(f"input_ids must not be empty, got shape {(B, T)}")
        lo, hi = int(input_ids.min()), int(input_ids.max())
        if lo < 0 or hi >= c.vocab_size:
            raise ValueError(
                f"input_ids must hold token ids in [0, {c.vocab_size}); got values from {lo} to {hi}"
            )
        if attention_mask is not None:
            if not isinstance(attention_mask, torch.Tensor) or attention_mask.is_floating_point():
                raise TypeError(
                    "attention_mask must be an integer or bool tensor (1 = token, 0 = padding), "
                    f"got {_describe(attention_mask)}"
                )
            if attention_mask.shape != input_ids.shape:
                raise ValueError(
                    f"attention_mask must have the shape of input_ids {(B, T)}, got "
                    f"{tuple(attention_mask.shape)}"
                )
            if not bool(((attention_mask == 0) | (attention_mask == 1)).all()):
                raise ValueError("attention_mask must hold only 0 (padding) and 1 (token)")
            attention_mask = attention_mask.bool()
        if token_type_ids is None:
            token_type_ids = torch.zeros_like(input_ids)
        else:
            if not isinstance(token_type_ids, torch.Tensor) or token_type_ids.dtype not in (
                torch.long,
                torch.int,
            ):
                raise TypeError(
                    f"token_type_ids must be an integer tensor, got {_describe(token_type_ids)}"
                )
            if token_type_ids.shape != input_ids.shape:
                raise ValueError(
                    f"token_type_ids must have the shape of input_ids {(B, T)}, got "
                    f"{tuple(token_type_ids.shape)}"
                )
            if int(token_type_ids.min()) < 0 or int(token_type_ids.max()) >= c.type_vocab_size:
                raise ValueError(
                    f"token_type_ids must hold segment ids in [0, {c.type_vocab_size})"
                )
        return input_ids, attention_mask, token_type_ids

    # ----------------------------------------------------------------------------- forward

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        token_type_ids: torch.Tensor | None = None,
        output_attentions: bool = False,
    ) -> BertOutput:
        """Encode ``input_ids`` ``(B, T)``; ``attention_mask`` ``(B, T)``: 1 = token, 0 = padding.

        ``output_attentions=True`` also returns each layer's attention weights (computed by
        the written-out formula for this call, whatever ``attn_impl`` is).
        """
        input_ids, mask, token_type_ids = self.check_inputs(
            input_ids, attention_mask, token_type_ids
        )
        key_mask = None if mask is None else mask[:, None, :]  # (B, 1, T): padding keys hidden
        h = self.embeddings(input_ids, token_type_ids)
        hidden = [h]
        maps = []
        for layer in self.layers:
            h, weights = layer(h, key_mask, return_weights=output_attentions)
            hidden.append(h)
            if weights is not None:
                maps.append(weights)
        pooled = torch.tanh(self.pooler(h[:, 0]))
        return BertOutput(h, pooled, tuple(hidden), tuple(maps) if output_attentions else None)

    # -------------------------------------------------------------------------- weights

    @classmethod
    def from_pretrained(
        cls,
        name_or_path: str | os.PathLike[str] = "all-minilm-l6-v2",
        *,
        num_layers: int | None = None,
        progress: bool = False,
        **overrides: Any,
    ) -> BertModel:
        """Load a BERT from a folder with ``config.json`` + ``model.safetensors``, or from a name
        in ``labkit.pretrained.registry`` (fetched and verified first).

        ``num_layers`` keeps only the first that many layers (a cheaper model whose hidden
        states equal the full model's at that depth); ``overrides`` change config fields
        (e.g. ``attn_impl="reference"``, ``hidden_dropout_prob=0.0``).
        """
        folder = _resolve(name_or_path, progress)
        config = BertConfig.from_json(folder / "config.json", **overrides)
        if num_layers is not None:
            _positive_int("num_layers", num_layers)
            if num_layers > config.num_hidden_layers:
                raise ValueError(
                    f"num_layers must be at most the model's {config.num_hidden_layers} "
                    f"layers, got {num_layers}"
                )
            config = dataclasses.replace(config, num_hidden_layers=num_layers)
        from safetensors.torch import load_file

        model = cls(config)
        model.load_hf_state_dict(load_file(folder / "model.safetensors"))
        return model.eval()

    def load_hf_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        """Copy weights named as in Hugging Face's ``BertModel`` into this model (strict:
        every parameter must be given once; layers beyond this model's depth are skipped)."""
        own = self.state_dict()
        mapped: dict[str, torch.Tensor] = {}
        n = self.config.num_hidden_layers
        for key, value in state.items():
            new = hf_key(key)
            if new is None:
                continue
            if new.startswith("layers.") and int(new.split(".")[1]) >= n:
                continue
            if new not in own:
                raise KeyError(f"weight {key!r} (labkit {new!r}) has no place in this model")
            if tuple(value.shape) != tuple(own[new].shape):
                raise ValueError(
                    f"weight {key!r} has shape {tuple(value.shape)}, but {new} in this model "
                    f"(config {self.config}) has shape {tuple(own[new].shape)}"
                )
            mapped[new] = value
        missing = sorted(set(own) - set(mapped))
        if missing:
            raise KeyError(f"the weights lack {len(missing)} tensors, e.g. {missing[:3]}")
        self.load_state_dict(mapped, strict=True)


def _resolve(name_or_path: str | os.PathLike[str], progress: bool) -> Path:
    """A folder path as is; a registry name fetched (verified) into the cache."""
    from labkit.pretrained import registry

    if isinstance(name_or_path, str) and name_or_path in registry.REGISTRY:
        return registry.fetch(name_or_path, progress=progress)
    if not isinstance(name_or_path, str | os.PathLike):
        raise TypeError(
            f"name_or_path must be a model name or a folder, got {type(name_or_path).__name__}"
        )
    folder = Path(name_or_path)
    if not (folder / "config.json").is_file() or not (folder / "model.safetensors").is_file():
        known = ", ".join(sorted(registry.REGISTRY))
        raise ValueError(
            f"name_or_path must be a registered model name ({known}) or a folder holding "
            f"config.json and model.safetensors; got {os.fspath(name_or_path)!r}"
        )
    return folder


# ------------------------------------------------------------------------- tokenisation


def wordpiece(
    word: str, vocab: set[str] | dict[str, int], unk: str = "[UNK]", max_chars: int = 100
) -> list[str]:
    """Cut one (already lower-cased, punctuation-free) word into WordPiece tokens.

    Greedy longest match first: take the longest prefix that is in the vocabulary, then the
    longest vocabulary piece ``##...`` of what remains, and so on. A word that cannot be cut
    this way (or is longer than ``max_chars``) becomes the single token ``unk``.
    """
    if len(word) > max_chars:
        return [unk]
    pieces: list[str] = []
    start = 0
    while start < len(word):
        end = len(word)
        while end > start:
            piece = word[start:end] if start == 0 else "##" + word[start:end]
            if piece in vocab:
                break
            end -= 1
        if end == start:  # not even one character is in the vocabulary
            return [unk]
        pieces.append(piece)
        start = end
    return pieces


class Tokenizer:
    """WordPiece tokenisation of a BERT (the ``tokenizers`` library reading ``tokenizer.json``).

    ``tok(texts)`` returns padded ``input_ids``, ``attention_mask`` and ``token_type_ids``
    ``(B, T)`` with ``T`` the longest text's length (at most ``max_length``; longer texts are
    cut, keeping ``[SEP]`` last). sentence-transformers uses ``max_length=256`` for MiniLM.
    """

    def __init__(self, path: str | os.PathLike[str], max_length: int = 256) -> None:
        from tokenizers import Tokenizer as _Fast

        path = Path(path)
        if path.is_dir():
            path = path / "tokenizer.json"
        if not path.is_file():
            raise FileNotFoundError(f"no tokenizer.json at {path}")
        self.max_length = _positive_int("max_length", max_length)
        self._tok = _Fast.from_file(str(path))
        self._tok.no_padding()
        self._tok.enable_truncation(max_length)
        self.vocab: dict[str, int] = self._tok.get_vocab()
        self.pad_id = self.vocab["[PAD]"]

    @classmethod
    def from_pretrained(
        cls, name_or_path: str | os.PathLike[str] = "all-minilm-l6-v2", max_length: int = 256
    ) -> Tokenizer:
        return cls(_resolve(name_or_path, progress=False), max_length=max_length)

    @property
    def vocab_size(self) -> int:
        return self._tok.get_vocab_size()

    def tokenize(self, text: str) -> list[str]:
        """The WordPiece tokens of ``text``, with ``[CLS]`` and ``[SEP]``."""
        if not isinstance(text, str):
            raise TypeError(f"text must be a str, got {type(text).__name__}")
        return self._tok.encode(text).tokens

    def decode(self, ids: Sequence[int] | torch.Tensor) -> str:
        if isinstance(ids, torch.Tensor):
            ids = ids.tolist()
        return self._tok.decode(list(ids))

    def __call__(self, texts: str | Sequence[str]) -> dict[str, torch.Tensor]:
        if isinstance(texts, str):
            texts = [texts]
        if not isinstance(texts, Sequence) or not texts:
            raise ValueError(f"texts must be a str or a non-empty list of str, got {texts!r}")
        for i, t in enumerate(texts):
            if not isinstance(t, str):
                raise TypeError(f"texts[{i}] must be a str, got {type(t).__name__}")
        encodings = self._tok.encode_batch(list(texts))
        T = max(len(e.ids) for e in encodings)
        ids = torch.full((len(texts), T), self.pad_id, dtype=torch.long)
        mask = torch.zeros((len(texts), T), dtype=torch.long)
        types = torch.zeros((len(texts), T), dtype=torch.long)
        for b, e in enumerate(encodings):
            n = len(e.ids)
            ids[b, :n] = torch.tensor(e.ids)
            mask[b, :n] = 1
            types[b, :n] = torch.tensor(e.type_ids)
        return {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}


# ------------------------------------------------------------------- sentence embeddings


def mean_pool(hidden: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """``Σ_t m_t h_t / Σ_t m_t``: the mean of the real tokens' vectors, ``(B, T, d)`` → ``(B, d)``.

    Padding does not count (a padded sentence gets the same vector as unpadded); the
    denominator is clamped at 1e-9, as sentence-transformers does, for an all-padding row.
    """
    if not isinstance(hidden, torch.Tensor) or hidden.dim() != 3:
        raise ValueError(f"hidden must be a (batch, time, dim) tensor, got {_describe(hidden)}")
    if not isinstance(attention_mask, torch.Tensor) or attention_mask.shape != hidden.shape[:2]:
        raise ValueError(
            f"attention_mask must be a tensor of shape {tuple(hidden.shape[:2])} (batch, time), "
            f"got {_describe(attention_mask)}"
        )
    m = attention_mask.to(hidden.dtype).unsqueeze(-1)  # (B, T, 1)
    return (hidden * m).sum(dim=1) / m.sum(dim=1).clamp(min=1e-9)


class SentenceEncoder:
    """Sentence embeddings: tokenise, encode, mean-pool, L2-normalise (sentence-transformers).

    ``enc = SentenceEncoder.from_pretrained("all-minilm-l6-v2")``; ``enc.encode(texts)`` gives a
    ``(N, d)`` float tensor of unit vectors, so ``enc.encode(a) @ enc.encode(b).T`` are cosines.
    """

    def __init__(self, model: BertModel, tokenizer: Tokenizer) -> None:
        if not isinstance(model, BertModel):
            raise TypeError(f"model must be a BertModel, got {type(model).__name__}")
        if not isinstance(tokenizer, Tokenizer):
            raise TypeError(f"tokenizer must be a Tokenizer, got {type(tokenizer).__name__}")
        self.model = model.eval()
        self.tokenizer = tokenizer

    @classmethod
    def from_pretrained(
        cls,
        name_or_path: str | os.PathLike[str] = "all-minilm-l6-v2",
        max_length: int = 256,
        **kwargs: Any,
    ) -> SentenceEncoder:
        model = BertModel.from_pretrained(name_or_path, **kwargs)
        return cls(model, Tokenizer.from_pretrained(name_or_path, max_length=max_length))

    @torch.no_grad()
    def encode(
        self, texts: str | Sequence[str], batch_size: int = 64, normalize: bool = True
    ) -> torch.Tensor:
        """``(N, d)`` sentence embeddings of ``texts`` (unit length when ``normalize``).

        Texts are encoded in batches of similar length (less padding, same result), and the
        result is returned in the order given.
        """
        if isinstance(texts, str):
            texts = [texts]
        _positive_int("batch_size", batch_size)
        if not isinstance(texts, Sequence) or not texts:
            raise ValueError(f"texts must be a str or a non-empty list of str, got {texts!r}")
        device = next(self.model.parameters()).device
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        out = torch.empty(len(texts), self.model.config.hidden_size)
        was_training = self.model.training
        self.model.eval()  # no dropout: the same text always gets the same embedding
        try:
            for start in range(0, len(order), batch_size):
                idx = order[start : start + batch_size]
                batch = self.tokenizer([texts[i] for i in idx])
                batch = {k: v.to(device) for k, v in batch.items()}
                h = self.model(**batch).last_hidden_state
                e = mean_pool(h, batch["attention_mask"])
                if normalize:
                    e = F.normalize(e, p=2, dim=1)
                out[idx] = e.float().cpu()
        finally:
            self.model.train(was_training)
        return out


# ------------------------------------------------------------------------ fine-tuning


def freeze(module: nn.Module) -> int:
    """Stop training ``module``'s parameters (``requires_grad = False``); returns how many."""
    n = 0
    for p in module.parameters():
        p.requires_grad_(False)
        n += p.numel()
    return n


def unfreeze(module: nn.Module) -> int:
    """Train ``module``'s parameters again; returns how many."""
    n = 0
    for p in module.parameters():
        p.requires_grad_(True)
        n += p.numel()
    return n


class BertClassifier(nn.Module):
    """A classifier on a BERT encoder: ``logits = Dropout(pool(BERT(x))) W + b``.

    ``pooling``: ``"mean"`` (the sentence embedding before normalisation), ``"cls"`` (the
    [CLS] token's vector) or ``"pooler"`` (BERT's tanh pooler on [CLS]). Follows labkit's
    convention ``model(input_ids, attention_mask, targets=None) -> (logits, loss)`` with
    ``loss`` the mean cross-entropy, so :class:`labkit.train.Trainer` trains it with a
    ``batch_fn`` returning ``((input_ids, attention_mask), labels)``.
    """

    def __init__(
        self,
        encoder: BertModel,
        num_classes: int,
        pooling: str = "mean",
        dropout: float = 0.1,
    ) -> None:
        super().__init__()
        if not isinstance(encoder, BertModel):
            raise TypeError(f"encoder must be a BertModel, got {type(encoder).__name__}")
        _positive_int("num_classes", num_classes)
        if num_classes < 2:
            raise ValueError(f"num_classes must be at least 2, got {num_classes}")
        if pooling not in POOLINGS:
            raise ValueError(f"pooling must be one of {POOLINGS}, got {pooling!r}")
        if (
            isinstance(dropout, bool)
            or not isinstance(dropout, int | float)
            or not 0 <= dropout < 1
        ):
            raise ValueError(f"dropout must be a number in [0, 1), got {dropout!r}")
        self.encoder = encoder
        self.num_classes = num_classes
        self.pooling = pooling
        self.drop = nn.Dropout(dropout)
        self.head = nn.Linear(encoder.config.hidden_size, num_classes)
        nn.init.normal_(self.head.weight, std=0.02)
        nn.init.zeros_(self.head.bias)

    def features(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        """The pooled sentence vector ``(B, d)`` the head reads."""
        out = self.encoder(input_ids, attention_mask)
        if self.pooling == "mean":
            mask = torch.ones_like(input_ids) if attention_mask is None else attention_mask
            return mean_pool(out.last_hidden_state, mask)
        if self.pooling == "cls":
            return out.last_hidden_state[:, 0]
        return out.pooler_output

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        targets: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        logits = self.head(self.drop(self.features(input_ids, attention_mask)))
        if targets is None:
            return logits, None
        if not isinstance(targets, torch.Tensor) or targets.dtype not in (torch.long, torch.int):
            raise TypeError(
                f"targets must be an integer tensor of labels, got {_describe(targets)}"
            )
        if targets.shape != (input_ids.shape[0],):
            raise ValueError(
                f"targets must have shape (batch,) = ({input_ids.shape[0]},), one label per "
                f"sequence; got {tuple(targets.shape)}"
            )
        if int(targets.min()) < 0 or int(targets.max()) >= self.num_classes:
            raise ValueError(
                f"targets must hold labels in [0, {self.num_classes}); got values from "
                f"{int(targets.min())} to {int(targets.max())}"
            )
        return logits, F.cross_entropy(logits, targets.long())

    def freeze_encoder(self, train_top_layers: int = 0) -> int:
        """Train only the head (and the top ``train_top_layers`` encoder layers); returns the
        number of trainable parameters left."""
        n_layers = len(self.encoder.layers)
        if (
            isinstance(train_top_layers, bool)
            or not isinstance(train_top_layers, int)
            or not 0 <= train_top_layers <= n_layers
        ):
            raise ValueError(
                f"train_top_layers must be an int in [0, {n_layers}], got {train_top_layers!r}"
            )
        freeze(self.encoder)
        for layer in self.encoder.layers[n_layers - train_top_layers :]:
            unfreeze(layer)
        unfreeze(self.head)
        return self.num_trainable()

    def unfreeze(self) -> int:
        """Train everything again; returns the number of trainable parameters."""
        unfreeze(self)
        return self.num_trainable()

    def num_trainable(self) -> int:
        return sum(p.numel() for p in self.parameters() if p.requires_grad)


class LinearClassifier(nn.Module):
    """Logistic regression on fixed features: ``logits = x W + b``, softmax over classes.

    ``model(features, targets=None) -> (logits, loss)`` (labkit's convention), for a head on
    frozen sentence embeddings trained by :class:`labkit.train.Trainer`.
    """

    def __init__(self, in_features: int, num_classes: int) -> None:
        super().__init__()
        _positive_int("in_features", in_features)
        _positive_int("num_classes", num_classes)
        self.linear = nn.Linear(in_features, num_classes)
        nn.init.zeros_(self.linear.weight)  # a convex problem: start from "all classes equal"
        nn.init.zeros_(self.linear.bias)

    def forward(
        self, x: torch.Tensor, targets: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        if not isinstance(x, torch.Tensor) or x.dim() != 2 or x.shape[1] != self.linear.in_features:
            raise ValueError(
                f"x must be a (batch, {self.linear.in_features}) float tensor, got {_describe(x)}"
            )
        logits = self.linear(x)
        return logits, None if targets is None else F.cross_entropy(logits, targets.long())


Inputs = dict[str, torch.Tensor] | torch.Tensor


def _rows(x: Inputs) -> int:
    return len(x["input_ids"]) if isinstance(x, dict) else len(x)


def _take(x: Inputs, idx: torch.Tensor) -> Any:
    """Rows ``idx`` of tokenised texts as ``(input_ids, attention_mask)`` cut to the longest
    row (less padding, same result), or rows of a feature tensor."""
    if not isinstance(x, dict):
        return x[idx]
    mask = x["attention_mask"][idx]
    T = max(int(mask.sum(dim=1).max()), 1)
    return x["input_ids"][idx, :T], mask[:, :T]


def classification_batches(
    train: tuple[Inputs, torch.Tensor],
    val: tuple[Inputs, torch.Tensor],
    batch_size: int = 32,
) -> Any:
    """A ``batch_fn`` for :class:`labkit.train.Trainer` that draws labelled examples.

    ``train`` and ``val`` are ``(inputs, labels)``: inputs either a :class:`Tokenizer` output
    (the batch is then ``((input_ids, attention_mask), labels)``, for :class:`BertClassifier`)
    or a ``(N, d)`` feature tensor (for :class:`LinearClassifier`). Examples are drawn at random
    with the Trainer's generator, so runs repeat exactly (the Trainer's validation loss is the
    mean over ``eval_batches`` such draws from ``val``).
    """
    _positive_int("batch_size", batch_size)
    splits = {"train": train, "val": val}
    for name, pair in splits.items():
        if not isinstance(pair, tuple) or len(pair) != 2:
            raise TypeError(f"{name} must be a pair (inputs, labels), got {type(pair).__name__}")
        x, y = pair
        if not isinstance(y, torch.Tensor) or y.dim() != 1 or len(y) != _rows(x):
            raise ValueError(
                f"{name} labels must be a 1-D tensor with one label per example "
                f"({_rows(x)}), got {_describe(y)}"
            )

    def batch_fn(split: str, generator: torch.Generator) -> tuple[Any, torch.Tensor]:
        x, y = splits[split]
        idx = torch.randint(len(y), (batch_size,), generator=generator)
        return _take(x, idx), y[idx]

    return batch_fn


@torch.no_grad()
def predict(model: nn.Module, inputs: Inputs, batch_size: int = 64) -> torch.Tensor:
    """The predicted class of every example (``argmax`` of the logits), in order."""
    _positive_int("batch_size", batch_size)
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    out = []
    try:
        for start in range(0, _rows(inputs), batch_size):
            idx = torch.arange(start, min(start + batch_size, _rows(inputs)))
            x = _take(inputs, idx)
            if isinstance(x, tuple):
                logits, _ = model(*(t.to(device) for t in x))
            else:
                logits, _ = model(x.to(device))
            out.append(logits.argmax(dim=-1).cpu())
    finally:
        model.train(was_training)
    return torch.cat(out)


def semantic_search(
    queries: torch.Tensor, corpus: torch.Tensor, k: int = 5
) -> tuple[torch.Tensor, torch.Tensor]:
    """The ``k`` corpus rows most similar to each query by cosine similarity, best first.

    ``cos(q, c) = q·c / (‖q‖ ‖c‖)``; ``queries`` ``(Q, d)`` (or one ``(d,)`` vector) and
    ``corpus`` ``(N, d)``. Returns ``(scores, indices)``, each ``(Q, k)``.
    """
    if not isinstance(queries, torch.Tensor) or queries.dim() not in (1, 2):
        raise ValueError(f"queries must be a (Q, d) or (d,) tensor, got {_describe(queries)}")
    if queries.dim() == 1:
        queries = queries[None]
    if not isinstance(corpus, torch.Tensor) or corpus.dim() != 2:
        raise ValueError(f"corpus must be a (N, d) tensor, got {_describe(corpus)}")
    if corpus.shape[1] != queries.shape[1]:
        raise ValueError(
            f"queries and corpus must have the same width d; got {queries.shape[1]} and "
            f"{corpus.shape[1]}"
        )
    _positive_int("k", k)
    if k > len(corpus):
        raise ValueError(f"k must be at most the corpus size {len(corpus)}, got {k}")
    cos = F.normalize(queries.float(), dim=1) @ F.normalize(corpus.float(), dim=1).T
    return cos.topk(k, dim=1)
