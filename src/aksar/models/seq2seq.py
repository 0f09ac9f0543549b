"""Seq2seq recognizer: CNN + BiLSTM encoder over the width, additive-attention GRU decoder.

At every output step the decoder attends over *all* encoder positions, so it can emit characters in
logical (stored) order even when they are drawn elsewhere: a Khmer pre-base vowel (U+17C1..U+17C5,
e.g. "េ") is stored after its consonant but drawn to its left, and the decoder simply looks back to the
left for it. CTC cannot do that (its alignment is monotonic).

Classes: ``0 = PAD, 1 = SOS, 2 = EOS``, charset token ``i -> i + 3``.
"""
from __future__ import annotations

import math
from typing import Any, Mapping, Sequence

import torch
from torch import nn

import numpy as np

from aksar.core.errors import AksarError
from aksar.models.backbones import output_lengths
from aksar.models.base import MASKED, OCRModel, check_token_ids, run_rnn, to_numpy, valid_frames
from aksar.models.crnn import TINY_BACKBONE, make_backbone
from aksar.models.decoding import ATTN_OFFSET, EOS, PAD, SOS, LMScorer
from aksar.models.registry import register_model


class AttentionGRU(nn.Module):
    """One step: attend (Bahdanau) with the previous state, update a GRU cell, predict the next class."""

    def __init__(self, num_classes: int, mem_dim: int, embed_dim: int, hidden: int, attn_dim: int) -> None:
        super().__init__()
        self.embed = nn.Embedding(num_classes, embed_dim)
        self.mem_proj = nn.Linear(mem_dim, attn_dim)
        self.hid_proj = nn.Linear(hidden, attn_dim, bias=False)
        self.score = nn.Linear(attn_dim, 1, bias=False)
        self.init_h = nn.Linear(mem_dim, hidden)
        self.cell = nn.GRUCell(embed_dim + mem_dim, hidden)
        self.out = nn.Linear(hidden + mem_dim, num_classes)

    def start(self, memory: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Initial hidden state (from the masked mean of the memory) and the projected memory."""
        m = mask.unsqueeze(-1).to(memory.dtype)
        mean = (memory * m).sum(1) / m.sum(1).clamp(min=1.0)
        return torch.tanh(self.init_h(mean)), self.mem_proj(memory)

    def step(self, prev: torch.Tensor, h: torch.Tensor, memory: torch.Tensor, keys: torch.Tensor,
             mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        scores = self.score(torch.tanh(keys + self.hid_proj(h).unsqueeze(1))).squeeze(-1)  # [B, T]
        scores = scores.masked_fill(~mask, MASKED)
        attn = scores.softmax(-1)
        context = torch.bmm(attn.unsqueeze(1), memory).squeeze(1)
        h = self.cell(torch.cat([self.embed(prev), context], -1), h)
        return self.out(torch.cat([h, context], -1)), h, attn


@register_model("seq2seq_small", "small VGG encoder + BiLSTM, attention GRU decoder",
                backbone="small", enc_hidden=128, dec_hidden=256, embed_dim=64, attn_dim=128)
@register_model("seq2seq_medium", "medium VGG encoder + BiLSTM, attention GRU decoder",
                backbone="medium", enc_hidden=256, dec_hidden=384, embed_dim=128, attn_dim=256)
class Seq2SeqModel(OCRModel):
    """Attention encoder-decoder.

    Training forward (``targets`` given, ``model.train()``): teacher forcing, each sample at each step
    feeds the ground truth with probability ``teacher_forcing`` (1.0 = always), else its own argmax.
    Eval forward: a free greedy decode of up to ``max_length`` tokens (+ EOS) whose ids, probabilities
    and attention weights (``pred_ids``, ``pred_probs``, ``attention`` ``[B, steps, frames]``) go in the
    outputs; with targets it also returns the teacher-forced loss (``logits`` are then teacher-forced).
    """

    kind = "attention"
    loss_family = "ce"
    default_loss = "ce"
    export_takes_widths = True
    tiny = dict(TINY_BACKBONE, enc_hidden=16, dec_hidden=32, embed_dim=8, attn_dim=16, max_length=12)

    def __init__(self, num_tokens: int, height: int = 32, backbone: str = "small",
                 channels: Sequence[int] | None = None, scale: float = 0.5, enc_hidden: int = 128,
                 dec_hidden: int = 256, embed_dim: int = 64, attn_dim: int = 128, max_length: int = 100,
                 teacher_forcing: float = 1.0, dropout: float = 0.0, loss: Any = None) -> None:
        super().__init__(num_tokens, height, loss)
        if not 0.0 <= teacher_forcing <= 1.0:
            raise AksarError(f"model.teacher_forcing: expected a ratio in [0, 1], got {teacher_forcing!r}")
        if not isinstance(max_length, int) or max_length < 1:
            raise AksarError(f"model.max_length: expected a positive integer, got {max_length!r}")
        self._remember(height=height, backbone=backbone, channels=list(channels) if channels else None,
                       scale=scale, enc_hidden=enc_hidden, dec_hidden=dec_hidden, embed_dim=embed_dim,
                       attn_dim=attn_dim, max_length=max_length, teacher_forcing=teacher_forcing,
                       dropout=dropout)
        self.max_length = max_length
        self.teacher_forcing = teacher_forcing
        self.backbone = make_backbone(backbone, height, channels, scale)
        self.rnn = nn.LSTM(self.backbone.out_channels, enc_hidden, bidirectional=True, batch_first=True)
        self.dropout = nn.Dropout(dropout)
        self.decoder = AttentionGRU(self.num_classes, 2 * enc_hidden, embed_dim, dec_hidden, attn_dim)

    # -- encoder ---------------------------------------------------------------------------------------
    def encode(self, images: torch.Tensor, widths: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        """Memory ``[B, T, 2*enc_hidden]`` and its validity mask ``[B, T]`` (from the true widths)."""
        self._check_images(images)
        widths = None if widths is None else widths.to(images.device)
        feats = self.backbone(images, widths).transpose(1, 2)
        total = feats.shape[1]
        lengths = None if widths is None else output_lengths(widths, total)
        memory = self.dropout(run_rnn(self.rnn, feats, lengths))
        if lengths is None:
            mask = torch.ones(memory.shape[:2], dtype=torch.bool, device=memory.device)
        else:
            mask = valid_frames(lengths, total)
        return memory, mask

    # -- decoding loops --------------------------------------------------------------------------------
    def _teacher_forced(self, memory, mask, tg: Mapping[str, torch.Tensor], ratio: float) -> torch.Tensor:
        inputs = tg["input"]
        h, keys = self.decoder.start(memory, mask)
        prev = inputs[:, 0]
        steps = []
        for t in range(inputs.shape[1]):
            logits, h, _ = self.decoder.step(prev, h, memory, keys, mask)
            steps.append(logits)
            if t + 1 < inputs.shape[1]:
                prev = inputs[:, t + 1]
                if ratio < 1.0:
                    own = logits.argmax(-1)
                    use_truth = torch.rand(prev.shape, device=prev.device) < ratio
                    prev = torch.where(use_truth, prev, own)
        return torch.stack(steps, 1)

    def _greedy(self, memory, mask, steps: int, stop_early: bool
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """Greedy decode: logits ``[B,S,C]``, ids ``[B,S]``, probs ``[B,S]``, attention ``[B,S,T]``."""
        batch = memory.shape[0]
        h, keys = self.decoder.start(memory, mask)
        prev = torch.full((batch,), SOS, dtype=torch.long, device=memory.device)
        done = torch.zeros(batch, dtype=torch.bool, device=memory.device)
        all_logits, ids, probs, attns = [], [], [], []
        for _ in range(steps):
            logits, h, attn = self.decoder.step(prev, h, memory, keys, mask)
            p, prev = logits.softmax(-1).max(-1)
            all_logits.append(logits)
            ids.append(prev)
            probs.append(p)
            attns.append(attn)
            if stop_early:
                done = done | (prev == EOS)
                if bool(done.all()):
                    break
        return (torch.stack(all_logits, 1), torch.stack(ids, 1), torch.stack(probs, 1),
                torch.stack(attns, 1))

    # -- interface -------------------------------------------------------------------------------------
    def forward(self, images: torch.Tensor, widths: torch.Tensor, targets: Any = None) -> dict[str, Any]:
        memory, mask = self.encode(images, widths)
        out: dict[str, Any] = {"memory": memory, "memory_mask": mask}
        if targets is not None:
            tg = self._targets(targets, memory.device)
            ratio = self.teacher_forcing if self.training else 1.0
            logits = self._teacher_forced(memory, mask, tg, ratio)
            out["loss"] = self.loss_fn(logits, tg["target"], pad_index=PAD)
            out["logits"] = logits
        if not self.training:
            logits, ids, probs, attn = self._greedy(memory, mask, self.max_length + 1, stop_early=True)
            out.update(pred_ids=ids, pred_probs=probs, attention=attn)
            out.setdefault("logits", logits)
        return out

    def prepare_targets(self, token_ids: list[list[int]], device: torch.device | str = "cpu") -> dict:
        """``input`` = SOS + tokens, ``target`` = tokens + EOS, both PAD-padded to ``max len + 1``."""
        check_token_ids(token_ids, self.num_tokens)
        width = max((len(ids) for ids in token_ids), default=0) + 1
        inp = torch.full((len(token_ids), width), PAD, dtype=torch.long)
        tgt = torch.full((len(token_ids), width), PAD, dtype=torch.long)
        for i, ids in enumerate(token_ids):
            cls = torch.tensor([t + ATTN_OFFSET for t in ids], dtype=torch.long)
            inp[i, 0] = SOS
            inp[i, 1:len(ids) + 1] = cls
            tgt[i, :len(ids)] = cls
            tgt[i, len(ids)] = EOS
        lengths = torch.tensor([len(ids) for ids in token_ids], dtype=torch.long)
        return {"input": inp.to(device), "target": tgt.to(device), "lengths": lengths.to(device)}

    def decoder_inputs(self, outputs: Mapping[str, Any]) -> tuple[list[np.ndarray], None]:
        """Greedy ``ids`` and ``probs`` (training outputs: the argmax of the teacher-forced logits)."""
        if "pred_ids" in outputs:
            ids, probs = outputs["pred_ids"], outputs["pred_probs"]
        else:
            probs, ids = outputs["logits"].detach().float().softmax(-1).max(-1)
        return [to_numpy(ids), to_numpy(probs)], None

    def decode(self, outputs: Mapping[str, Any], method: str = "greedy", beam_width: int = 5,
               lm: LMScorer | None = None) -> list[tuple[list[int], float]]:
        """Greedy: the decoder's rules on :meth:`decoder_inputs`; beam: :meth:`beam_search` (the network)."""
        if method != "beam":
            return super().decode(outputs, method, beam_width, lm)
        self.output_decoder.check(method, lm)
        return self.beam_search(outputs["memory"], outputs["memory_mask"], beam_width)

    @torch.no_grad()
    def beam_search(self, memory: torch.Tensor, mask: torch.Tensor, beam_width: int = 5
                    ) -> list[tuple[list[int], float]]:
        """Per-sample beam search over the decoder; score = sum of log-probabilities.

        Stops when the best finished hypothesis beats every live one (scores only decrease) or after
        ``max_length + 1`` steps. Confidence = ``exp(score / steps)`` (geometric mean per step).
        """
        results = []
        k = max(1, int(beam_width))
        for b in range(memory.shape[0]):
            mem, msk = memory[b:b + 1], mask[b:b + 1]
            h, keys = self.decoder.start(mem, msk)
            beams: list[tuple[float, list[int]]] = [(0.0, [])]
            hs = h
            finished: list[tuple[float, list[int]]] = []
            for _ in range(self.max_length + 1):
                n = len(beams)
                prev = torch.tensor([seq[-1] if seq else SOS for _, seq in beams], device=mem.device)
                logits, hs, _ = self.decoder.step(prev, hs, mem.expand(n, -1, -1), keys.expand(n, -1, -1),
                                                  msk.expand(n, -1))
                logp = logits.float().log_softmax(-1)
                top_lp, top_c = logp.topk(min(k, logp.shape[-1]), dim=-1)
                cands = []
                for i, (score, seq) in enumerate(beams):
                    for lp, c in zip(top_lp[i].tolist(), top_c[i].tolist()):
                        cands.append((score + lp, seq + [c], i))
                cands.sort(key=lambda x: x[0], reverse=True)
                live = []
                for score, seq, i in cands:
                    if seq[-1] in (EOS, PAD, SOS):
                        finished.append((score, seq))
                    else:
                        live.append((score, seq, i))
                    if len(live) == k:
                        break
                best_done = max((s for s, _ in finished), default=-math.inf)
                if not live or best_done >= live[0][0]:
                    break
                beams = [(s, seq) for s, seq, _ in live]
                hs = hs[torch.tensor([i for _, _, i in live], device=mem.device)]
            pool = finished or [(s, seq) for s, seq in beams]
            score, seq = max(pool, key=lambda x: x[0])
            tokens = [c - ATTN_OFFSET for c in seq if c >= ATTN_OFFSET]
            results.append((tokens, float(min(1.0, math.exp(score / max(1, len(seq)))))))
        return results

    def export_forward(self, images: torch.Tensor, widths: torch.Tensor | None = None
                       ) -> tuple[torch.Tensor, torch.Tensor]:
        """Fixed-length greedy decode: class ids ``[B, max_length + 1]`` and their probabilities.

        Read each row up to the first EOS (:func:`aksar.models.decoding.attention_ids_to_tokens`).
        Without ``widths`` the whole (padded) width is attended; pass widths for mixed-width batches.
        """
        memory, mask = self.encode(images, widths)
        _, ids, probs, _ = self._greedy(memory, mask, self.max_length + 1, stop_early=False)
        return ids, probs
