"""The interlingua model, top to bottom in the order a sentence meets it.

    tokens ──embed──▶ encoder (told nothing about the language) ──▶ bridge ──▶ thought (k × d)
    thought + target language ──▶ decoder (cross-attends to the thought only) ──▶ next-token logits

The bridge is a fixed set of k learned queries that read the encoder states; its output, the
*thought*, has the same shape for every sentence in every language. The decoder never sees the
encoder states, so no source-language signal can reach it except through the thought: that is
what makes zero-shot directions and language-agnostic sentence vectors possible.

``model.memory`` adds a translation memory's match (``memory.py``): the retrieved translation is encoded by
the same encoder and each decoder layer reads it through a cross-attention of its own, after the thought's.
The thought stays the source's alone (``encode`` never sees the match), so sentence vectors, retrieval and
probes keep their meaning; and because the match is encoded into the same language-agnostic space as the
thought, the decoder can compare the two to judge how far to trust it. No match is an empty sentence (EOS).

``model.memory_copy`` adds a copy gate over that match (a pointer-generator: See et al. 2017; for translation
memories Gu et al. 2018, Cai et al. 2021). Reading the match through attention alone, the decoder must still
regenerate every token of a near-exact human translation from the vocabulary softmax, and measured it did so
less faithfully than pasting the match (docs/results.md, session 9: chrF 67.0 against the memory's 73.3 on
>= 90% matches). With the gate, each step's distribution is ``(1 - g) · softmax(logits) + g · p_copy``, where
``p_copy`` puts a copy attention's weights on the match's own token ids: one learned scalar decides to copy,
and the pointer only has to find the next position in the match, not the token among V. ``decode`` then returns the mixture's log-probabilities,
which are valid logits for every caller (each applies a softmax or log_softmax, which leaves them as they are).

``bridge_queries: 0`` removes the bridge: the thought is then the encoder states themselves, one
vector per source token with padding rows all zero, and the decoder attends to all of them. That
is the standard multilingual Transformer (Johnson et al. 2017), kept as the yardstick that says
what the fixed-size thought costs and buys.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
import torch.nn as nn
import torch.nn.functional as F

from .config import ModelConfig


# ----------------------------------------------------------------------------- building blocks

def sinusoidal_positions(n_positions: int, d_model: int) -> torch.Tensor:
    """Fixed positions (Vaswani et al.): nothing to learn, any length up to n_positions."""
    position = torch.arange(n_positions).unsqueeze(1)
    freq = torch.exp(torch.arange(0, d_model, 2) * (-math.log(10000.0) / d_model))
    table = torch.zeros(n_positions, d_model)
    table[:, 0::2] = torch.sin(position * freq)
    table[:, 1::2] = torch.cos(position * freq)
    return table


def attend(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, mask: torch.Tensor | None, causal: bool,
           dropout: float) -> torch.Tensor:
    """The framework's fused attention kernel, kept in fp32 on CPUs even under bf16 autocast.

    The CPU's bf16 attention backward is ~8x slower than its fp32 one, and attention is a small
    share of this model's FLOPs, so only the matmuls around it run in bf16 there.
    """
    if q.device.type == "cpu" and torch.is_autocast_enabled("cpu"):
        with torch.autocast("cpu", enabled=False):
            return F.scaled_dot_product_attention(q.float(), k.float(), v.float(), attn_mask=mask,
                                                  is_causal=causal, dropout_p=dropout)
    return F.scaled_dot_product_attention(q, k, v, attn_mask=mask, is_causal=causal, dropout_p=dropout)


class KVCache:
    """One self-attention layer's keys and values so far, for incremental decoding.

    They live in a buffer (rows, heads, capacity, d_head) that doubles when full, so a step writes
    only its own keys and values; concatenating copied the whole history at every step.
    """

    def __init__(self) -> None:
        self.k: torch.Tensor | None = None
        self.v: torch.Tensor | None = None
        self.length = 0

    def append(self, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Add this step's (rows, heads, n, d_head) keys and values; return views of all of them."""
        end = self.length + k.shape[2]
        if self.k is None or end > self.k.shape[2]:
            capacity = max(end, 2 * self.length, 16)
            self.k, self.v = (self._grown(old, new, capacity) for old, new in ((self.k, k), (self.v, v)))
        self.k[:, :, self.length:end] = k
        self.v[:, :, self.length:end] = v
        self.length = end
        return self.k[:, :, :end], self.v[:, :, :end]

    def _grown(self, old: torch.Tensor | None, like: torch.Tensor, capacity: int) -> torch.Tensor:
        rows, heads, _, d_head = like.shape
        buffer = like.new_empty(rows, heads, capacity, d_head)
        if old is not None:
            buffer[:, :, :self.length] = old[:, :, :self.length]
        return buffer

    def copy_rows(self, source: torch.Tensor, target: torch.Tensor) -> None:
        """Row ``target[i]`` takes row ``source[i]``'s history (beam search re-ranking), in place."""
        if self.k is not None:
            for buffer in (self.k, self.v):
                buffer[target, :, :self.length] = buffer[source, :, :self.length]


class Attention(nn.Module):
    """Multi-head attention on the framework's fused kernel (scaled_dot_product_attention).

    ``self_attention=True`` projects q, k, v from one input in one matmul; otherwise q comes
    from the queries and k, v from the memory (which may be pre-projected once and reused).
    """

    def __init__(self, d_model: int, n_heads: int, dropout: float, self_attention: bool):
        super().__init__()
        self.n_heads, self.dropout, self.self_attention = n_heads, dropout, self_attention
        if self_attention:
            self.qkv = nn.Linear(d_model, 3 * d_model)
        else:
            self.q = nn.Linear(d_model, d_model)
            self.kv = nn.Linear(d_model, 2 * d_model)
        self.out = nn.Linear(d_model, d_model)

    def _heads(self, x: torch.Tensor) -> torch.Tensor:  # (B, T, d) -> (B, h, T, d/h)
        b, t, d = x.shape
        return x.view(b, t, self.n_heads, d // self.n_heads).transpose(1, 2)

    def project_memory(self, memory: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        k, v = self.kv(memory).chunk(2, dim=-1)
        return self._heads(k), self._heads(v)

    def forward(self, x: torch.Tensor, memory: torch.Tensor | None = None, *,
                mask: torch.Tensor | None = None, causal: bool = False,
                memory_kv: tuple[torch.Tensor, torch.Tensor] | None = None,
                cache: KVCache | None = None) -> torch.Tensor:
        if self.self_attention:
            q, k, v = (self._heads(t) for t in self.qkv(x).chunk(3, dim=-1))
            if cache is not None:  # incremental decoding: attend to every step's keys and values so far
                k, v = cache.append(k, v)
                # bool(): traced for ONNX (export.py) the length is a tensor; one new token, so a constant
                causal = causal and bool(q.shape[2] > 1)
        else:
            q = self._heads(self.q(x))
            k, v = memory_kv if memory_kv is not None else self.project_memory(memory)
            if k.shape[0] != q.shape[0]:
                return self.out(self._attend_shared_memory(q, k, v, mask))
        y = attend(q, k, v, mask, causal, self.dropout if self.training else 0.0)
        b, h, t, dh = y.shape
        return self.out(y.transpose(1, 2).reshape(b, t, h * dh))

    def _attend_shared_memory(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor,
                              mask: torch.Tensor | None) -> torch.Tensor:
        """Queries of g consecutive rows that share one memory row (a sentence's beams share its thought):
        each memory is read once for all g rows' queries instead of once per row. -> (rows, T, d)."""
        rows, heads, t, d_head = q.shape
        n = k.shape[0]
        q = q.view(n, rows // n, heads, t, d_head).transpose(1, 2).reshape(n, heads, rows // n * t, d_head)
        y = attend(q, k, v, mask, False, 0.0)  # mask (n, 1, 1, S): one per memory row
        return y.view(n, heads, rows // n, t, d_head).permute(0, 2, 3, 1, 4).reshape(rows, t, heads * d_head)


class FeedForward(nn.Module):
    def __init__(self, d_model: int, d_ff: int, dropout: float):
        super().__init__()
        self.up, self.down, self.drop = nn.Linear(d_model, d_ff), nn.Linear(d_ff, d_model), nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.down(self.drop(F.gelu(self.up(x))))


# ----------------------------------------------------------------------------- encoder

class Residual(nn.Module):
    """Base of the encoder and decoder layers: each sub-layer f is wrapped as pre-norm x + f(norm(x))
    (model.norm=pre) or post-norm norm(x + f(x)) (model.norm=post: the original Transformer's and Marian's)."""

    def __init__(self, c: ModelConfig):
        super().__init__()
        self.post_norm = c.norm == "post"
        self.drop = nn.Dropout(c.dropout)

    def residual(self, x: torch.Tensor, norm: nn.LayerNorm, f) -> torch.Tensor:
        return norm(x + self.drop(f(x))) if self.post_norm else x + self.drop(f(norm(x)))

    def without_residual(self, x: torch.Tensor, norm: nn.LayerNorm, f) -> torch.Tensor:
        """The same sub-layer with the input not added back: norm(f(x)) post-norm, f(norm(x)) pre-norm."""
        return norm(self.drop(f(x))) if self.post_norm else self.drop(f(norm(x)))


class EncoderLayer(Residual):
    """Transformer layer: self-attention then feed-forward, each with a residual.

    ``attention_residual=False`` (the layer ``model.encoder_no_residual`` names) drops the residual around
    the self-attention (Liu et al. 2021): each position's output is then only a mix of the positions it
    attends to, so the position-by-position copy of the source, which carries its language, does not pass
    this layer unchanged."""

    def __init__(self, c: ModelConfig, attention_residual: bool = True):
        super().__init__(c)
        self.attention_residual = attention_residual
        self.norm1, self.norm2 = nn.LayerNorm(c.d_model), nn.LayerNorm(c.d_model)
        self.attn = Attention(c.d_model, c.n_heads, c.dropout, self_attention=True)
        self.ff = FeedForward(c.d_model, c.d_ff, c.dropout)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        wrap = self.residual if self.attention_residual else self.without_residual
        x = wrap(x, self.norm1, lambda h: self.attn(h, mask=mask))
        return self.residual(x, self.norm2, self.ff)


# ----------------------------------------------------------------------------- bridge: the thought

class BridgeLayer(nn.Module):
    """The k thought slots read the encoder states, then exchange information among themselves."""

    def __init__(self, c: ModelConfig):
        super().__init__()
        self.norm_q, self.norm_mem, self.norm_self, self.norm_ff = (nn.LayerNorm(c.d_model) for _ in range(4))
        self.read = Attention(c.d_model, c.n_heads, c.dropout, self_attention=False)
        self.mix = Attention(c.d_model, c.n_heads, c.dropout, self_attention=True)
        self.ff = FeedForward(c.d_model, c.d_ff, c.dropout)
        self.drop = nn.Dropout(c.dropout)

    def forward(self, slots: torch.Tensor, states: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        slots = slots + self.drop(self.read(self.norm_q(slots), self.norm_mem(states), mask=mask))
        slots = slots + self.drop(self.mix(self.norm_self(slots)))
        return slots + self.drop(self.ff(self.norm_ff(slots)))


class Bridge(nn.Module):
    """Variable-length encoder states (B, S, d) -> a fixed-size thought (B, k, d)."""

    def __init__(self, c: ModelConfig):
        super().__init__()
        self.queries = nn.Parameter(torch.randn(c.bridge_queries, c.d_model) * 0.02)
        self.layers = nn.ModuleList(BridgeLayer(c) for _ in range(c.bridge_layers))
        self.norm = nn.LayerNorm(c.d_model)

    def forward(self, states: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        slots = self.queries.unsqueeze(0).expand(states.shape[0], -1, -1)
        for layer in self.layers:
            slots = layer(slots, states, mask)
        return self.norm(slots)


# ----------------------------------------------------------------------------- decoder

TINY = torch.finfo(torch.float32).tiny  # log(TINY) ~ -87: a token the match lacks, never log 0 (nor a NaN gradient)


class CopyHead(nn.Module):
    """A pointer over the memory's match (model.memory_copy): where to copy from, and how much to copy.

    One attention head from the final decoder state over the match's encoded tokens gives p_copy, a
    distribution over the match's positions added onto the vocabulary at those positions' token ids;
    a gate g, from the state and what the head read, mixes it with the vocabulary softmax. With no match
    (the EOS-only sentence) the pointer can only point at EOS: the gate has to learn to close there.
    """

    def __init__(self, d_model: int):
        super().__init__()
        self.query, self.key = nn.Linear(d_model, d_model), nn.Linear(d_model, d_model)
        self.gate = nn.Linear(2 * d_model, 1)

    def pointer(self, x: torch.Tensor, keys: torch.Tensor, states: torch.Tensor,
                ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x (B, T, d) final decoder states, the match's keys and states (B, M, d) and token ids (B, M) ->
        the gate's logit (B, T, 1) and the pointer's weights over the match (B, T, M), both fp32."""
        scores = self.query(x) @ keys.transpose(1, 2) / math.sqrt(x.shape[-1])          # (B, T, M)
        scores = scores.float().masked_fill((ids == Interlingua.PAD)[:, None, :], float("-inf"))
        weights = scores.softmax(-1)
        context = weights.to(states.dtype) @ states                                     # (B, T, d)
        gate = self.gate(torch.cat([x, context.to(x.dtype)], -1)).float()              # (B, T, 1): logit of g
        return gate, weights

    @staticmethod
    def mixture(logits: torch.Tensor, gate: torch.Tensor, weights: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:
        """log p (..., V) of the mixture, fp32, from logits (..., V), the gate's logit (..., 1), the pointer's
        weights (..., M) and the match's token ids (..., M). The one formula: decoding (forward) and the
        chunked training loss (losses.output_layer_loss) both call it."""
        p_copy = torch.zeros(logits.shape, dtype=torch.float32, device=logits.device)
        p_copy.scatter_add_(-1, ids, weights)
        # log((1 - g)·softmax + g·p_copy), term by term in log space: no product underflows to log 0
        return torch.logaddexp(F.logsigmoid(-gate) + logits.float().log_softmax(-1),
                               F.logsigmoid(gate) + p_copy.clamp_min(TINY).log())

    def forward(self, x: torch.Tensor, logits: torch.Tensor, keys: torch.Tensor, states: torch.Tensor,
                ids: torch.Tensor) -> torch.Tensor:
        """As ``pointer``, with logits (B, T, V) -> log p (B, T, V) of the mixture, in fp32 whatever the autocast dtype."""
        gate, weights = self.pointer(x, keys, states, ids)
        return self.mixture(logits, gate, weights, ids[:, None, :].expand(-1, x.shape[1], -1))


class DecoderLayer(Residual):
    def __init__(self, c: ModelConfig):
        super().__init__(c)
        self.norm1, self.norm2, self.norm3 = (nn.LayerNorm(c.d_model) for _ in range(3))
        self.self_attn = Attention(c.d_model, c.n_heads, c.dropout, self_attention=True)
        self.cross_attn = Attention(c.d_model, c.n_heads, c.dropout, self_attention=False)
        self.ff = FeedForward(c.d_model, c.d_ff, c.dropout)
        if c.memory:  # created last, so a model without a memory draws the very same initial weights
            self.norm_match = nn.LayerNorm(c.d_model)
            self.match_attn = Attention(c.d_model, c.n_heads, c.dropout, self_attention=False)

    def forward(self, x: torch.Tensor, thought_kv: tuple[torch.Tensor, torch.Tensor],
                cache: KVCache | None = None, thought_mask: torch.Tensor | None = None,
                match_kv: tuple[torch.Tensor, torch.Tensor] | None = None,
                match_mask: torch.Tensor | None = None) -> torch.Tensor:
        x = self.residual(x, self.norm1, lambda h: self.self_attn(h, causal=True, cache=cache))
        x = self.residual(x, self.norm2, lambda h: self.cross_attn(h, memory_kv=thought_kv, mask=thought_mask))
        if match_kv is not None:  # the memory's translation: its own path, after the thought
            x = self.residual(x, self.norm_match, lambda h: self.match_attn(h, memory_kv=match_kv, mask=match_mask))
        return self.residual(x, self.norm3, self.ff)


@dataclass
class DecoderState:
    """What incremental decoding carries from one step to the next (the KV cache)."""
    thought_kv: list[tuple[torch.Tensor, torch.Tensor]]  # per layer, projected once
    lang_vector: torch.Tensor                            # (B, 1, d) target-language embeddings, looked up once
    thought_mask: torch.Tensor | None = None             # (B, 1, 1, T) real thought rows; None: all are (k > 0)
    self_cache: list[KVCache] = field(default_factory=list)  # per decoder layer
    position: int = 0
    match_kv: list[tuple[torch.Tensor, torch.Tensor]] | None = None  # per layer: the memory match (model.memory)
    match_mask: torch.Tensor | None = None               # (B, 1, 1, M) its real rows
    # model.memory_copy: the match per decoding row (beams repeated): token ids (B, M), the copy head's keys
    # (projected once) and the encoder's per-token states (B, M, d), which a bridge would have pooled away
    match_ids: torch.Tensor | None = None
    copy_keys: torch.Tensor | None = None
    copy_states: torch.Tensor | None = None
    # Inference only: the tied output layer as a contiguous (d, V) matrix. x @ W.T on the (V, d)
    # embedding table takes a slow path for a few rows (~2x at batch 1 and beam 4 on this CPU).
    output_weight: torch.Tensor | None = None

    def reorder(self, index: torch.Tensor) -> None:
        """Row i of the self-attention cache becomes row ``index[i]`` (beam search re-ranks hypotheses).

        Only the rows that change are copied: beam search keeps a hypothesis's first continuation
        in its own row. ``index`` keeps every row among its own sentence's beams, so the thought's
        keys and values and the target-language vector, equal across those beams, stay where they are.
        """
        target = (index != torch.arange(len(index), device=index.device)).nonzero().squeeze(1)
        if len(target):
            source = index[target]
            for cache in self.self_cache:
                cache.copy_rows(source, target)


# ----------------------------------------------------------------------------- the model

def adamw_decaying_matrices(model: nn.Module, lr: float, weight_decay: float,
                            undecayed: tuple[str, ...]) -> torch.optim.AdamW:
    """AdamW with weight decay on the matrices whose names contain none of ``undecayed`` (the
    tables and learned slots a model names; why: Interlingua.configure_optimizer). bench/ gives its peers
    the same grouping through this, with their own table names."""
    named = list(model.named_parameters())  # frozen ones (Marian's fixed position table) get no gradient: skipped

    def decays(name: str, param: nn.Parameter) -> bool:
        return param.dim() >= 2 and not any(part in name for part in undecayed)
    return torch.optim.AdamW([{"params": [p for n, p in named if decays(n, p)], "weight_decay": weight_decay},
                              {"params": [p for n, p in named if not decays(n, p)], "weight_decay": 0.0}],
                             lr=lr, betas=(0.9, 0.98), eps=1e-9)


class Interlingua(nn.Module):
    PAD, UNK, BOS, EOS = 0, 1, 2, 3  # fixed SentencePiece ids (see tokenizer.py)

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.config = c = config
        self.embed = nn.Embedding(c.vocab_size, c.d_model, padding_idx=self.PAD)
        self.register_buffer("positions", sinusoidal_positions(c.max_positions, c.d_model), persistent=False)
        self.embed_drop = nn.Dropout(c.dropout)
        self.encoder = nn.ModuleList(EncoderLayer(c, attention_residual=i != c.encoder_no_residual)
                                     for i in range(c.encoder_layers))
        self.encoder_norm = nn.LayerNorm(c.d_model)  # post-norm layers end normalised already: kept, one affine more
        self.bridge = Bridge(c) if c.bridge_queries > 0 else None
        # The target language is told to the decoder only, added at every position so it cannot be forgotten.
        self.target_language = nn.Embedding(max(1, len(c.target_languages)), c.d_model)
        self.decoder = nn.ModuleList(DecoderLayer(c) for _ in range(c.decoder_layers))
        self.decoder_norm = nn.LayerNorm(c.d_model)
        # Training only (train.adversary_weight > 0): a linear language classifier on the whole thought;
        # the encoder learns to make its answer uniform (losses.adversary_loss, not a reversed gradient).
        self.language_adversary = (nn.Linear(c.bridge_queries * c.d_model, max(1, len(c.target_languages)))
                                   if c.language_adversary and c.bridge_queries > 0 else None)
        # created last, so a model without the copy gate draws the very same initial weights
        self.match_copy = CopyHead(c.d_model) if c.memory and c.memory_copy else None
        self.apply(self._init_weights)

    def _init_weights(self, module: nn.Module) -> None:
        # Default: Xavier for products, N(0, 1/d) for the table (times sqrt(d) in _embed: unit variance).
        # init_std > 0 is HF Marian's and BART's scheme, N(0, 0.02) for both, kept to compare with them.
        std = self.config.init_std
        if isinstance(module, nn.Linear):
            if std > 0:
                nn.init.normal_(module.weight, std=std)
            else:
                nn.init.xavier_uniform_(module.weight)
            nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            nn.init.normal_(module.weight, std=std or module.embedding_dim ** -0.5)
            if std > 0 and module.padding_idx is not None:  # Marian's zero padding row (the default keeps its draw)
                with torch.no_grad():
                    module.weight[module.padding_idx].zero_()

    @property
    def device(self) -> torch.device:
        return self.embed.weight.device

    def language_ids(self, languages: list[str]) -> torch.Tensor:
        table = {lang: i for i, lang in enumerate(self.config.target_languages)}
        return torch.tensor([table[lang] for lang in languages], device=self.embed.weight.device)

    def _embed(self, tokens: torch.Tensor, offset: int = 0) -> torch.Tensor:
        x = self.embed(tokens) * math.sqrt(self.config.d_model)
        return x + self.positions[offset:offset + tokens.shape[1]]

    # -- encode: tokens -> thought ------------------------------------------------------------

    def encode(self, src: torch.Tensor, *, return_layers: bool = False):
        """src (B, S) token ids -> thought (B, k, d); with return_layers also every layer's states.

        Nothing here depends on the source language: the encoder is shared and untold.
        """
        keep = src != self.PAD                       # (B, S)
        mask = keep[:, None, None, :]                # broadcast over heads and query positions
        x = self.embed_drop(self._embed(src))
        layers = [x]
        for layer in self.encoder:
            x = layer(x, mask)
            layers.append(x)
        states = self.encoder_norm(x)
        # No bridge: the states are the thought, padding rows zeroed so that they mark themselves.
        thought = self.bridge(states, mask) if self.bridge is not None else states.masked_fill(~keep[..., None], 0.0)
        return (thought, layers, keep) if return_layers else thought

    @staticmethod
    def pool(thought: torch.Tensor) -> torch.Tensor:
        """One L2-normalised sentence vector per thought: the mean of its k slots (of its non-padding rows
        without a bridge; a bridge's slots are never all zero, so this is their plain mean)."""
        keep = (thought != 0).any(-1, keepdim=True)
        return F.normalize((thought * keep).sum(1) / keep.sum(1).clamp(min=1), dim=-1)

    def thought_mask(self, thought: torch.Tensor) -> torch.Tensor | None:
        """(B, 1, 1, T) which thought rows the decoder may read: None with a bridge (all k of them)."""
        return None if self.bridge is not None else (thought != 0).any(-1)[:, None, None, :]

    # -- decode: thought + target language -> tokens ------------------------------------------

    def start_decoding(self, thought: torch.Tensor, lang: torch.Tensor, beam: int = 1,
                       match: torch.Tensor | None = None) -> DecoderState:
        """Decoding state for ``len(thought) * beam`` rows, sentence by sentence (row b·beam + j is
        beam j of sentence b); ``lang`` has one target language per sentence.

        A sentence's beams share its thought's keys and values: they are projected and read once.
        ``match`` (B, M) the token ids of each sentence's memory match (model.memory); None: no match for any.
        """
        kv = [layer.cross_attn.project_memory(thought) for layer in self.decoder]
        match_kv = match_mask = None
        copy: dict[str, torch.Tensor] = {}
        if self.config.memory:
            if match is None:  # no match: the empty sentence, EOS alone
                match = torch.full((thought.shape[0], 1), self.EOS, dtype=torch.long, device=thought.device)
            encoded, layers, _ = self.encode(match, return_layers=True)
            match_kv = [layer.match_attn.project_memory(encoded) for layer in self.decoder]
            match_mask = self.thought_mask(encoded)
            if self.match_copy is not None:  # a pointer needs one state per match token, bridge or not
                states = self.encoder_norm(layers[-1])
                copy = {"match_ids": match, "copy_keys": self.match_copy.key(states), "copy_states": states}
        output_weight = None if torch.is_grad_enabled() else self.embed.weight.t().contiguous()
        lang_vector = self.target_language(lang)[:, None, :]
        if beam > 1:
            lang_vector = lang_vector.repeat_interleave(beam, dim=0)
            copy = {name: value.repeat_interleave(beam, dim=0) for name, value in copy.items()}
        return DecoderState(thought_kv=kv, lang_vector=lang_vector, thought_mask=self.thought_mask(thought),
                            self_cache=[KVCache() for _ in self.decoder], output_weight=output_weight,
                            match_kv=match_kv, match_mask=match_mask, **copy)

    def decode(self, tokens: torch.Tensor, state: DecoderState, *, use_cache: bool = True,
               logits: bool = True) -> torch.Tensor:
        """Logits (B, T, V) for ``tokens``; with use_cache, tokens are the new ones after ``state.position``.
        With model.memory_copy they are the copy mixture's log-probabilities (fp32; CopyHead).

        ``logits=False``: the final states (B, T, d) before the output layer, for a loss that
        applies that layer itself (losses.output_layer_loss; with the copy gate, and ``copy_pointer``).
        """
        offset = state.position if use_cache else 0
        x = self.embed_drop(self._embed(tokens, offset) + state.lang_vector)
        for i, (layer, kv, cache) in enumerate(zip(self.decoder, state.thought_kv, state.self_cache)):
            match_kv = state.match_kv[i] if state.match_kv is not None else None
            x = layer(x, kv, cache if use_cache else None, state.thought_mask, match_kv, state.match_mask)
        if use_cache:
            state.position += tokens.shape[1]
        x = self.decoder_norm(x)
        if not logits:
            return x
        # output layer tied to the embeddings
        out = x @ state.output_weight if state.output_weight is not None else F.linear(x, self.embed.weight)
        if self.match_copy is not None:
            return self.match_copy(x, out, state.copy_keys, state.copy_states, state.match_ids)
        return out

    def copy_pointer(self, hidden: torch.Tensor,
                     state: DecoderState) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None:
        """The copy gate's (gate logit (B, T, 1), pointer weights (B, T, M), match ids (B, M)) for the final
        states ``hidden`` that ``decode(logits=False)`` gave; None without the copy gate."""
        if self.match_copy is None:
            return None
        gate, weights = self.match_copy.pointer(hidden, state.copy_keys, state.copy_states, state.match_ids)
        return gate, weights, state.match_ids

    def forward(self, src: torch.Tensor, tgt_in: torch.Tensor, lang: torch.Tensor, logits: bool = True,
                match: torch.Tensor | None = None):
        """Teacher-forced training pass: logits (B, T, V) (or, with logits=False, the states before
        the output layer) and the thought (B, k, d). ``match``: the memory's translations (model.memory)."""
        thought = self.encode(src)
        state = self.start_decoding(thought, lang, match=match)
        return self.decode(tgt_in, state, use_cache=False, logits=logits), thought

    # -- training -----------------------------------------------------------------------------

    def configure_optimizer(self, lr: float, weight_decay: float) -> torch.optim.AdamW:
        """AdamW with weight decay on the matrices only.

        The grouping follows the parameters' roles, which only the model knows, so it lives here: decay
        shrinks the weights of a product (Linear layers, attention projections) towards zero, but not
        biases and LayerNorm gains (vectors: decaying them only shifts the layer's output), nor the
        embedding table (tied to the output layer: decay would pull rare tokens' rows, seldom updated,
        towards zero between their updates), nor the bridge's learned queries (the thought's slots).
        """
        return adamw_decaying_matrices(self, lr, weight_decay, undecayed=("embed", "queries"))

    # -- cost ---------------------------------------------------------------------------------

    def num_parameters(self, non_embedding: bool = False) -> int:
        n = sum(p.numel() for p in self.parameters())
        return n - self.embed.weight.numel() if non_embedding else n

    def flops_per_target_token(self, src_len: float, tgt_len: float, match_len: float | None = None) -> float:
        """Training FLOPs (forward + backward = 6 · params · tokens) per target token, attention included.

        Counted as in ../shared/peers.md so figures compare with the peers': non-embedding
        parameters of each side times the tokens on that side, plus the output layer V·d.
        With model.memory the match is a second source: its encoder (and bridge) pass, and each decoder
        layer's cross-attention over it; with model.memory_copy also the copy head. ``match_len`` defaults
        to ``tgt_len`` (a match is a translation in the target language, so of about its length); the
        match cross-attention's projections are in the decoder's parameters, counted per target token,
        which also counts its keys and values per match token only as long as that assumption holds.
        """
        c = self.config
        d, k = c.d_model, c.bridge_queries
        enc = sum(p.numel() for p in self.encoder.parameters())
        bridge = sum(p.numel() for p in self.bridge.parameters()) if self.bridge is not None else 0
        memory = k or src_len  # what the decoder attends to: the k slots, or every source token
        dec = sum(p.numel() for p in self.decoder.parameters())
        matmul = enc * src_len + bridge * k + dec * tgt_len + c.vocab_size * d * tgt_len
        attention = (c.encoder_layers * src_len * src_len + (c.bridge_layers * k * (src_len + k) if k else 0)
                     + c.decoder_layers * (tgt_len * tgt_len / 2 + tgt_len * memory)) * 2 * d
        m = tgt_len if match_len is None else match_len
        if c.memory:
            matmul += enc * m + bridge * k
            attention += (c.encoder_layers * m * m + (c.bridge_layers * k * (m + k) if k else 0)
                          + c.decoder_layers * tgt_len * (k or m)) * 2 * d
        if self.match_copy is not None:  # query and gate per target token, keys per match token; one head over m
            matmul += sum(p.numel() for p in self.match_copy.parameters()) * tgt_len
            attention += tgt_len * m * 2 * d
        return 6 * (matmul + attention) / tgt_len
