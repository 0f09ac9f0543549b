"""Decoding from probabilities to charset token ids, in numpy only (no torch: used by ONNX inference).

Class-id conventions (docs/ARCHITECTURE.md): CTC ``0 = blank``, token ``i -> i + 1``; attention
``0 = PAD, 1 = SOS, 2 = EOS``, token ``i -> i + 3``. Every function returns ``(token_ids, confidence)``
with 0-based charset ids and a confidence in [0, 1]:

- greedy (CTC and attention): the arithmetic mean of the chosen per-step probabilities (CTC: the
  frames that emitted a kept token; attention: the emitted tokens and the EOS step). An empty CTC
  result gets the mean max-probability over all its frames.
- beam: the per-step geometric mean of the sequence probability, ``P(y|x) ** (1 / steps)`` (CTC:
  ``steps = max(1, len(y))`` with ``P`` summed over all alignments; attention: tokens + EOS).
"""
from __future__ import annotations

import heapq
import math
from collections.abc import Callable, Sequence

import numpy as np

from aksar.core.errors import AksarError

CTC_BLANK = 0
PAD, SOS, EOS = 0, 1, 2
ATTN_OFFSET = 3


def ctc_best_path(probs: np.ndarray, length: int | None = None) -> tuple[list[int], list[float], float]:
    """(ids, probability of each id's first frame, line confidence) of the best path of one ``[T, C]``
    probability matrix: argmax, collapse repeats, drop blanks."""
    probs = np.asarray(probs)[: length if length is not None else None]
    if probs.shape[0] == 0:
        return [], [], 0.0
    best = probs.argmax(-1)
    best_p = probs.max(-1)
    keep = best != CTC_BLANK
    keep[1:] &= best[1:] != best[:-1]
    ids = [int(c) - 1 for c in best[keep]]
    conf = float(best_p[keep].mean()) if keep.any() else float(best_p.mean())
    return ids, [float(p) for p in best_p[keep]], conf


def ctc_greedy(probs: np.ndarray, length: int | None = None) -> tuple[list[int], float]:
    """Best-path decode of one ``[T, C]`` probability matrix: argmax, collapse repeats, drop blanks."""
    ids, _, conf = ctc_best_path(probs, length)
    return ids, conf


def ctc_aligned_confidences(probs: np.ndarray, ids: Sequence[int], length: int | None = None) -> list[float] | None:
    """The probability of each of ``ids`` (0-based) at its first frame on the most likely CTC alignment of
    ``ids`` to one ``[T, C]`` probability matrix (Viterbi), for a decode that is not the best path (beam search,
    a language model). For the best path's own ids it gives :func:`ctc_best_path`'s values. None when the
    frames cannot carry ``ids``."""
    probs = np.asarray(probs)
    return ctc_aligned_confidences_batch(probs[None], [ids], [probs.shape[0] if length is None else length])[0]


def ctc_aligned_confidences_batch(probs: np.ndarray, ids: Sequence[Sequence[int]], lengths: Sequence[int],
                                  ) -> list[list[float] | None]:
    """:func:`ctc_aligned_confidences` of every sample of a ``[B, T, C]`` batch (``lengths``: valid frames
    each) in one Viterbi pass over the frames, the samples side by side."""
    probs = np.asarray(probs)
    n = len(ids)
    out: list[list[float] | None] = [[] for _ in range(n)]
    rows = [b for b in range(n) if len(ids[b])]
    if not rows:
        return out
    lengths_r = np.asarray([min(int(lengths[b]), probs.shape[1]) for b in rows])
    n_ids = np.asarray([len(ids[b]) for b in rows])
    n_states = 2 * n_ids + 1
    size, frames, r = int(n_states.max()), int(max(lengths_r.max(), 1)), np.arange(len(rows))
    ext = np.zeros((len(rows), size), np.int64)   # blank, id, blank, id, ..., blank (then padding)
    for i, b in enumerate(rows):
        ext[i, 1:2 * n_ids[i]:2] = np.asarray(ids[b], np.int64) + 1
    with np.errstate(divide="ignore"):
        logp = np.log(np.take_along_axis(probs[rows, :frames].astype(np.float64), ext[:, None, :], axis=2))
    logp = np.where(np.arange(size)[None, None, :] >= n_states[:, None, None], -np.inf, logp)  # past the end
    skip = np.zeros((len(rows), size), bool)       # s-2 -> s: past a blank between two different ids
    skip[:, 2:] = (ext[:, 2:] != CTC_BLANK) & (ext[:, 2:] != ext[:, :-2])
    score = np.full((len(rows), size), -np.inf)
    score[:, :2] = logp[:, 0, :2]
    back = np.zeros((frames, len(rows), size), np.int8)  # 0 stay, 1 from s-1, 2 from s-2
    cand = np.full((3, len(rows), size), -np.inf)
    for t in range(1, frames):
        cand[0], cand[1, :, 1:] = score, score[:, :-1]
        cand[2, :, 2:] = np.where(skip[:, 2:], score[:, :-2], -np.inf)
        back[t] = cand.argmax(0)
        moved = np.take_along_axis(cand, back[t][None], axis=0)[0] + logp[:, t]
        score = np.where((t < lengths_r)[:, None], moved, score)    # a shorter sample's frames have ended
    last, before = score[r, n_states - 1], score[r, n_states - 2]
    state = np.where(last >= before, n_states - 1, n_states - 2)
    first = np.zeros((len(rows), int(n_ids.max())), np.int64)   # each id's first frame (walking back: the last seen)
    for t in range(frames - 1, -1, -1):
        live = t < lengths_r
        odd = live & (state % 2 == 1)
        first[r[odd], state[odd] // 2] = t
        state = np.where(live, state - back[t, r, state], state)
    for i, b in enumerate(rows):
        if lengths_r[i] == 0 or max(last[i], before[i]) == -np.inf:
            out[b] = None
        else:
            k = np.arange(n_ids[i])
            out[b] = [float(x) for x in probs[b, first[i, k], ext[i, 2 * k + 1]]]
    return out


def _logsumexp(a: float, b: float) -> float:
    if a == -math.inf:
        return b
    if b == -math.inf:
        return a
    m = max(a, b)
    return m + math.log(math.exp(a - m) + math.exp(b - m))


LMScorer = Callable[[tuple[int, ...], int], float]


# Classes under this probability at a frame are not extended (the best one always is). 1e-4 with 16 beams read
# the val-split tuning lines with the shipped LMs at 1.57% (Khmer) where 5e-3 with 5 read 1.91% (BENCHMARKS.md)
BEAM_PRUNE = 1e-4


def ctc_prefix_beam_search(probs: np.ndarray, length: int | None = None, beam_width: int = 5,
                           prune: float = BEAM_PRUNE, lm: LMScorer | None = None) -> tuple[list[int], float]:
    """CTC prefix beam search over one ``[T, C]`` probability matrix (log space).

    Each prefix keeps two scores: ending in blank and ending in its last label, so that repeated labels
    separated by a blank are counted correctly. Classes with probability below ``prune`` at a frame
    are skipped (the best class is always kept).

    ``lm`` (shallow fusion): ``lm(prefix, token)`` over 0-based charset ids, a log-domain term added
    each time ``token`` is appended to ``prefix`` (e.g. ``CharLM.scorer``; an ``lm.context`` attribute
    says how many trailing ids it reads, and only those are passed). It steers the ranking only: the
    confidence is that of the acoustic score of the chosen prefix. An ``lm.max_term`` attribute (the
    largest term it can give) lets the search skip the LM for prefixes that cannot reach the beam even
    with it: the result is the same as scoring them all.
    """
    probs = np.asarray(probs, dtype=np.float64)[: length if length is not None else None]
    if probs.shape[0] == 0:
        return [], 0.0
    with np.errstate(divide="ignore"):
        logp = np.log(probs)
    ninf = -math.inf
    lse = _logsumexp
    # prefixes hold 0-based charset ids (class - 1), the ids the LM reads
    beams: dict[tuple[int, ...], tuple[float, float]] = {(): (0.0, ninf)}  # prefix -> (p_blank, p_label)
    lm_total: dict[tuple[int, ...], float] = {(): 0.0}  # prefix -> sum of its LM terms
    lm_context = getattr(lm, "context", None)  # trailing ids the LM reads (None: the whole prefix)
    max_term = 0.0 if lm is None else getattr(lm, "max_term", math.inf)
    bounded = max_term < math.inf  # else every extension is scored

    def term(new: tuple[int, ...]) -> float:
        """The LM term of ``new``'s last id (0 without an LM)."""
        if lm is None:
            return 0.0
        prefix = new[:-1]
        if new not in lm_total:
            tail = prefix if lm_context is None else prefix[-lm_context:] if lm_context else ()
            lm_total[new] = lm_total[prefix] + lm(tail, new[-1])
        return lm_total[new] - lm_total[prefix]

    kept = probs >= prune
    for t in range(logp.shape[0]):
        cands = np.flatnonzero(kept[t])
        if cands.size == 0:
            cands = np.array([int(probs[t].argmax())])
        row = logp[t]
        blank = float(row[CTC_BLANK]) if cands[0] == CTC_BLANK else None
        labels = [(int(c) - 1, float(row[c])) for c in cands if c != CTC_BLANK]
        nxt: dict[tuple[int, ...], list[float]] = {}  # prefix -> [p_blank, p_label] without the extension
        ext: dict[tuple[int, ...], float] = {}         # prefix -> acoustic score of extending its parent
        # floor: the beams followed by a blank are beam_width prefixes scoring at least this, so a new prefix
        # whose score cannot reach it (LM term at most max_term) is never made; one that is a beam already
        # (it has scores of its own) always is
        floor = ninf
        totals = [lse(pb, pl) for pb, pl in beams.values()]
        if bounded and blank is not None and len(beams) >= beam_width:
            floor = heapq.nlargest(beam_width, totals)[-1] + blank - max_term
        best = max(totals)
        low = {c: p for c, p in labels if best + p < floor}  # no beam's extension by these can reach the floor
        if low:
            labels = [(c, p) for c, p in labels if c not in low]
        kids: dict[tuple[int, ...], set[int]] = {}
        for k in beams:
            if k:
                kids.setdefault(k[:-1], set()).add(k[-1])
        for (prefix, (pb, pl)), total in zip(beams.items(), totals):
            if blank is not None:
                cur = nxt.setdefault(prefix, [ninf, ninf])
                cur[0] = lse(cur[0], total + blank)
            last = prefix[-1] if prefix else None
            beam_kids = kids.get(prefix, ())
            for c, p in labels:
                if c == last:  # a repeat collapses into the same prefix; a blank in between makes a new label
                    cur = nxt.setdefault(prefix, [ninf, ninf])
                    cur[1] = lse(cur[1], pl + p)
                    base = pb
                else:
                    base = total
                if base + p < floor and c not in beam_kids:
                    continue
                new = prefix + (c,)
                nxt.setdefault(new, [ninf, ninf])
                ext[new] = base + p  # one parent per prefix: at most one extension each
            if low:  # what the low labels still change: a repeat of the last one, extensions into beams
                if last in low:
                    cur = nxt.setdefault(prefix, [ninf, ninf])
                    cur[1] = lse(cur[1], pl + low[last])
                for c in sorted(low.keys() & beam_kids):
                    new = prefix + (c,)
                    nxt.setdefault(new, [ninf, ninf])
                    ext[new] = (pb if c == last else total) + low[c]
        # best first by an upper bound (the LM term at most max_term); stop once it is below the
        # beam_width-th exact score: the rest cannot reach the beam, and their LM is never asked
        order = {k: i for i, k in enumerate(nxt)}
        def bound(k: tuple[int, ...], v: list[float]) -> float:
            if k not in ext:
                return lse(v[0], v[1])
            return lse(lse(v[0], v[1]), ext[k] + max_term) if bounded else math.inf

        bounds = sorted(((bound(k, v), order[k], k) for k, v in nxt.items()), key=lambda e: e[0], reverse=True)
        scored: list[tuple[float, int, tuple[int, ...], float, float]] = []
        kth: list[float] = []  # min-heap of the beam_width best exact scores
        for bound, i, k in bounds:
            if len(kth) == beam_width and bound < kth[0]:
                break
            pb, pl = nxt[k]
            if k in ext:
                pl = lse(pl, ext[k] + term(k))
            score = lse(pb, pl)
            scored.append((score, i, k, pb, pl))
            if len(kth) < beam_width:
                heapq.heappush(kth, score)
            elif score > kth[0]:
                heapq.heapreplace(kth, score)
        scored.sort(key=lambda e: (-e[0], e[1]))
        beams = {k: (pb, pl) for _, _, k, pb, pl in scored[:beam_width]}
    prefix, (pb, pl) = max(beams.items(), key=lambda kv: lse(*kv[1]))
    logp_seq = lse(pb, pl) - lm_total.get(prefix, 0.0)
    conf = math.exp(logp_seq / max(1, len(prefix)))
    return list(prefix), float(min(1.0, conf))


METHODS = ("greedy", "beam")


def check_method(method: str, lm: LMScorer | None = None, takes_lm: bool = True, where: str = "decoder") -> None:
    """The one rule for decoder options: a known method; a language model only where ``takes_lm`` (the
    model's decoder fuses one) and only with beam search. ``where`` starts the message."""
    if method not in METHODS:
        raise AksarError(f"{where}: expected decoder 'greedy' or 'beam', got {method!r}")
    if lm is not None and not takes_lm:
        raise AksarError(f"{where}: a language model works with CTC models only")
    if lm is not None and method != "beam":
        raise AksarError(f"{where}: a language model needs the beam decoder (--decoder beam)")


def ctc_decode_batch(probs: np.ndarray, lengths: np.ndarray | None = None, method: str = "greedy",
                     beam_width: int = 5, lm: LMScorer | None = None) -> list[tuple[list[int], float]]:
    """Decode ``[B, T, C]`` CTC probabilities (``lengths`` = valid frames per sample); ``lm`` needs beam."""
    check_method(method, lm)
    probs = np.asarray(probs)
    out = []
    for b in range(probs.shape[0]):
        n = None if lengths is None else int(lengths[b])
        if method == "greedy":
            out.append(ctc_greedy(probs[b], n))
        else:
            out.append(ctc_prefix_beam_search(probs[b], n, beam_width=beam_width, lm=lm))
    return out


def attention_tokens(ids: np.ndarray, probs: np.ndarray) -> list[tuple[list[int], list[float]]]:
    """(tokens, probabilities) of each row of a greedy attention output (class ids ``[B, L]`` and their
    probabilities ``[B, L]``): reading stops at the first EOS (its probability is listed after the tokens')
    or PAD; SOS is skipped."""
    ids, probs = np.asarray(ids), np.asarray(probs)
    out = []
    for row, prow in zip(ids, probs):
        tokens: list[int] = []
        ps: list[float] = []
        for c, p in zip(row.tolist(), prow.tolist()):
            if c == EOS:
                ps.append(p)
                break
            if c == PAD:
                break
            if c == SOS:
                continue
            tokens.append(c - ATTN_OFFSET)
            ps.append(p)
        out.append((tokens, ps))
    return out


def attention_ids_to_tokens(ids: np.ndarray, probs: np.ndarray) -> list[tuple[list[int], float]]:
    """Turn greedy attention output into (tokens, confidence): the mean probability, EOS included
    (:func:`attention_tokens`)."""
    return [(tokens, float(np.mean(ps)) if ps else 0.0) for tokens, ps in attention_tokens(ids, probs)]


def classify(probs: np.ndarray) -> list[tuple[list[int], float]]:
    """Single-character mode: ``[B, num_tokens]`` probabilities -> exactly one token per sample."""
    probs = np.asarray(probs)
    best = probs.argmax(-1)
    return [([int(c)], float(probs[i, c])) for i, c in enumerate(best)]
