"""The model and the task of notebook 13: a small decoder-only transformer that learns to sort digits.

The task is generated, not downloaded. Each example is 8 random digits, a separator, then the same
digits sorted::

    3 1 4 1 5 9 2 6 | 1 1 2 3 4 5 6 9

The model reads the sequence left to right and predicts every next token; only its predictions of
the sorted half count (the first half is random, so nothing there can be learned). A batch is cheap
to draw, the loss starts at ln 11 ≈ 2.40 (a uniform guess over 11 tokens), and the accuracy of the
sorted half says in plain words how well it has learned.

The transformer is the GPT layout at toy size (pre-LayerNorm blocks of causal self-attention and an
MLP, learned position embeddings, a linear head); with torch's default initialisation.
"""

import math

import torch
import torch.nn.functional as F
from torch import nn

DIGITS = 8
"""Digits to sort in each example."""
SEPARATOR = 10
"""The token between the digits and their sorted copy (the digits are tokens 0–9)."""
VOCABULARY = 11
CONTEXT = 2 * DIGITS
"""Tokens the model reads: the digits, the separator, and the sorted digits but the last."""


def sorting_batch(generator: torch.Generator, batch_size: int, device="cpu") -> tuple[torch.Tensor, torch.Tensor]:
    """(inputs, targets), each (batch_size, CONTEXT) integer tokens: the targets are the inputs
    shifted one to the left, so position i is trained to predict token i + 1."""
    digits = torch.randint(0, 10, (batch_size, DIGITS), generator=generator)
    separator = torch.full((batch_size, 1), SEPARATOR)
    sequence = torch.cat([digits, separator, digits.sort(dim=1).values], dim=1).to(device)
    return sequence[:, :-1], sequence[:, 1:]


def evaluation_set(size: int = 128, device="cpu") -> tuple[torch.Tensor, torch.Tensor]:
    """The same ``size`` examples for every run (from their own seed), held out from training."""
    return sorting_batch(torch.Generator().manual_seed(2**31 - 1), size, device)


def sorted_half_loss(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Cross-entropy of the predictions of the sorted digits: positions DIGITS … end, from the
    separator's prediction of the first sorted digit on. In float32 even under autocast."""
    answer = slice(DIGITS, None)
    return F.cross_entropy(logits[:, answer].float().reshape(-1, VOCABULARY), targets[:, answer].reshape(-1))


def sorted_half_accuracy(logits: torch.Tensor, targets: torch.Tensor) -> float:
    """The fraction of sorted digits predicted right (each position given the true ones before it)."""
    answer = slice(DIGITS, None)
    return (logits[:, answer].argmax(-1) == targets[:, answer]).float().mean().item()


class Block(nn.Module):
    """One transformer block, pre-LayerNorm as in GPT-2:
    x + attention(LN(x)), then x + MLP(LN(x))."""

    def __init__(self, width: int, heads: int):
        super().__init__()
        self.heads = heads
        self.norm1 = nn.LayerNorm(width)
        self.qkv = nn.Linear(width, 3 * width)   # queries, keys and values of all heads at once
        self.project = nn.Linear(width, width)
        self.norm2 = nn.LayerNorm(width)
        self.expand = nn.Linear(width, 4 * width)
        self.contract = nn.Linear(4 * width, width)

    def attention(self, x: torch.Tensor) -> torch.Tensor:
        B, T, D = x.shape
        q, k, v = self.qkv(x).view(B, T, 3, self.heads, D // self.heads).permute(2, 0, 3, 1, 4)
        scores = q @ k.transpose(-1, -2) / math.sqrt(D // self.heads)     # (B, heads, T, T)
        future = torch.ones(T, T, dtype=torch.bool, device=x.device).triu(1)
        weights = scores.masked_fill(future, float("-inf")).softmax(dim=-1)   # no peeking ahead
        return self.project((weights @ v).transpose(1, 2).reshape(B, T, D))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attention(self.norm1(x))
        return x + self.contract(F.gelu(self.expand(self.norm2(x))))


class TinyTransformer(nn.Module):
    """Token and position embeddings, ``layers`` blocks, a final LayerNorm and a linear head."""

    def __init__(self, width: int = 64, heads: int = 4, layers: int = 2):
        super().__init__()
        if width % heads:
            raise ValueError(f"width must be a multiple of heads, got width={width!r}, heads={heads!r}")
        self.tokens = nn.Embedding(VOCABULARY, width)
        self.positions = nn.Embedding(CONTEXT, width)
        self.blocks = nn.Sequential(*(Block(width, heads) for _ in range(layers)))
        self.norm = nn.LayerNorm(width)
        self.head = nn.Linear(width, VOCABULARY)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        """Logits (batch, T, VOCABULARY) for tokens (batch, T), T ≤ CONTEXT."""
        x = self.tokens(tokens) + self.positions.weight[: tokens.shape[1]]
        return self.head(self.norm(self.blocks(x)))


def make_model(seed: int, device="cpu") -> TinyTransformer:
    """The notebook's transformer with torch's default initialisation, seeded: the same numbers as
    ``torch.manual_seed(seed); TinyTransformer()``, but drawn from a generator of its own, so that a
    model built in another thread (the explorer trains ahead in one) cannot change them."""
    with torch.device("meta"):
        model = TinyTransformer()                      # the shapes only: no random draws yet
    model.to_empty(device="cpu")
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for module in model.modules():                 # torch's defaults, in the order they are built
            if isinstance(module, nn.Linear):
                nn.init.kaiming_uniform_(module.weight, a=math.sqrt(5), generator=generator)
                bound = 1 / math.sqrt(module.in_features)
                nn.init.uniform_(module.bias, -bound, bound, generator=generator)
            elif isinstance(module, nn.Embedding):
                nn.init.normal_(module.weight, generator=generator)
            elif isinstance(module, nn.LayerNorm):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)
    return model.to(device)


def decays(name: str, parameter: torch.Tensor) -> bool:
    """Whether weight decay applies: to the weight matrices of the linear layers only; not to
    biases and LayerNorm gains (1-D: decay would pull a gain towards 0, away from its neutral
    1), nor to the embeddings (a row is a token's representation, not a weight that multiplies an
    input)."""
    return parameter.dim() == 2 and not name.startswith(("tokens.", "positions."))


def param_groups(model: nn.Module, weight_decay: float) -> list[dict]:
    """The two parameter groups for AdamW: decay on the matrices, none on the rest::

        AdamW(param_groups(model, 0.1), lr=peak)
    """
    named = list(model.named_parameters())
    return [{"params": [p for n, p in named if decays(n, p)], "weight_decay": weight_decay},
            {"params": [p for n, p in named if not decays(n, p)], "weight_decay": 0.0}]
