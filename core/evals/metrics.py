"""Scoring a reply against its references: each metric computed the way its field computes it.

Text overlap comes from the libraries the papers use (sacrebleu for BLEU and chrF, Google's
rouge-score for ROUGE), so a number here can be compared with a published one. Exact match and
token F1 follow the SQuAD evaluation script's normalisation (lower case, no punctuation, no
articles, single spaces); that script is a few lines, so it is written out here.
"""

from __future__ import annotations

import collections
import json
import re
import string
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from core.evals.schema import schema_errors

# One sentence each, shown beside the number wherever it appears.
EXPLANATIONS: dict[str, str] = {
    "exact_match": "1 when the reply equals a reference after SQuAD normalisation (lower case, "
                   "no punctuation or articles), else 0.",
    "f1": "Overlap of the reply's words with the best reference's (SQuAD token F1): "
          "harmonic mean of word precision and recall.",
    "bleu": "sacrebleu BLEU (0-100): n-gram precision against the references with a brevity "
            "penalty; the tokenizer is chosen by the references' script.",
    "chrf": "sacrebleu chrF (0-100): character n-gram F-score, robust to word forms and to "
            "scripts without spaces.",
    "rouge1": "rouge-score ROUGE-1 F-measure: unigram overlap with the best reference.",
    "rouge2": "rouge-score ROUGE-2 F-measure: bigram overlap with the best reference.",
    "rougeL": "rouge-score ROUGE-L F-measure: longest common word subsequence with the best "
              "reference.",
    "accuracy": "Share of items whose label, read from the reply, equals the gold label "
                "(a reply naming no label counts as wrong).",
    "macro_f1": "F1 per label averaged over the labels, so rare labels weigh as much as common "
                "ones (unparsed replies count as wrong).",
    "json_valid": "1 when the reply is (or contains, in a code fence) a JSON document, else 0.",
    "schema": "1 when the reply's JSON conforms to the item's JSON Schema, else 0.",
    "perplexity": "exp of the mean negative log-probability per token of the reference text "
                  "under the model (lower: the model finds it more expected).",
    "choice_acc": "Multiple choice by log-likelihood (as lm-evaluation-harness): 1 when the "
                  "gold choice has the highest summed log-probability after the prompt.",
    "choice_acc_norm": "As choice_acc, with each choice's log-likelihood divided by its length "
                       "in characters, so long choices are not penalised for their length.",
    "hit_at_k": "1 when a gold passage is among the top k retrieved for the prompt.",
    "mrr": "Reciprocal rank of the first gold passage among the retrieved ones (0 if absent).",
    "judge": "The judge model's score for the reply on the rubric, scaled to 0-1 "
             "(unparsed verdicts are left out and counted).",
}

REFERENCE_METRICS = ("exact_match", "f1", "bleu", "chrf", "rouge1", "rouge2", "rougeL")


# -- SQuAD exact match and token F1 ----------------------------------------------------------
def normalize_answer(text: str) -> str:
    """SQuAD's normalisation: lower case, punctuation and English articles removed, spaces
    collapsed."""
    text = text.lower()
    text = "".join(ch for ch in text if ch not in set(string.punctuation))
    text = re.sub(r"\b(a|an|the)\b", " ", text)
    return " ".join(text.split())


def exact_match(reply: str, references: Sequence[str]) -> float:
    return float(any(normalize_answer(reply) == normalize_answer(r) for r in references))


def _f1(reply: str, reference: str) -> float:
    said, gold = normalize_answer(reply).split(), normalize_answer(reference).split()
    if not said or not gold:
        return float(said == gold)  # SQuAD: both empty is a match, one empty scores 0
    common = sum((collections.Counter(said) & collections.Counter(gold)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(said), common / len(gold)
    return 2 * precision * recall / (precision + recall)


def token_f1(reply: str, references: Sequence[str]) -> float:
    """SQuAD token F1 against the best-matching reference."""
    return max(_f1(reply, r) for r in references)


# -- sacrebleu ------------------------------------------------------------------------------
def _script_of(text: str) -> str:
    """The writing system most letters of `text` belong to: 'cjk', 'thai' or 'spaced'."""
    counts = collections.Counter[str]()
    for ch in text:
        if not ch.isalpha():
            continue
        name = unicodedata.name(ch, "")
        if name.startswith(("CJK", "HIRAGANA", "KATAKANA", "HANGUL")):
            counts["cjk"] += 1
        elif name.startswith(("THAI", "LAO", "KHMER", "MYANMAR")):
            counts["thai"] += 1
        else:
            counts["spaced"] += 1
    return counts.most_common(1)[0][0] if counts else "spaced"


def bleu_tokenizer(references: Sequence[str]) -> str:
    """sacrebleu's tokenizer for these references. '13a' (WMT's default) for scripts written
    with spaces; for Chinese, Japanese, Korean, Thai and the like, 'char', which needs nothing
    downloaded: 'zh' would do for Chinese alone, but 'ja-mecab'/'ko-mecab' need MeCab packages
    and 'flores*' a SentencePiece model fetched from the network, which an offline app lacks."""
    scripts = collections.Counter(_script_of(r) for r in references if r.strip())
    if not scripts or scripts.most_common(1)[0][0] == "spaced":
        return "13a"
    return "char"


def sentence_bleu(reply: str, references: Sequence[str], tokenize: str | None = None) -> float:
    from sacrebleu.metrics import BLEU

    # effective_order: short sentences lack 4-grams; sacrebleu's advice for sentence-level use
    metric = BLEU(tokenize=tokenize or bleu_tokenizer(references), effective_order=True)
    return float(metric.sentence_score(reply, list(references)).score)


def corpus_bleu(replies: Sequence[str], references: Sequence[Sequence[str]],
                tokenize: str | None = None) -> tuple[float, str]:
    """Corpus BLEU over items (each with its own number of references) and the tokenizer."""
    from sacrebleu.metrics import BLEU

    tokenize = tokenize or bleu_tokenizer([r for refs in references for r in refs])
    streams = _reference_streams(references)
    return float(BLEU(tokenize=tokenize).corpus_score(list(replies), streams).score), tokenize


def sentence_chrf(reply: str, references: Sequence[str]) -> float:
    from sacrebleu.metrics import CHRF

    return float(CHRF().sentence_score(reply, list(references)).score)


def corpus_chrf(replies: Sequence[str], references: Sequence[Sequence[str]]) -> float:
    from sacrebleu.metrics import CHRF

    return float(CHRF().corpus_score(list(replies), _reference_streams(references)).score)


def _reference_streams(references: Sequence[Sequence[str]]) -> Any:
    # sacrebleu takes one stream per reference position; an item with fewer references has
    # None there, which sacrebleu skips for that item.
    width = max((len(r) for r in references), default=0)
    return [[refs[i] if i < len(refs) else None for refs in references] for i in range(width)]


# -- rouge-score ----------------------------------------------------------------------------
_ROUGE_TYPES = ("rouge1", "rouge2", "rougeL")


def rouge(reply: str, references: Sequence[str]) -> dict[str, float]:
    """ROUGE-1/2/L F-measures with stemming (as the summarisation papers report), against the
    best reference (rouge-score's score_multi)."""
    from rouge_score.rouge_scorer import RougeScorer

    scorer = RougeScorer(list(_ROUGE_TYPES), use_stemmer=True)
    scores = scorer.score_multi(list(references), reply)
    return {name: float(scores[name].fmeasure) for name in _ROUGE_TYPES}


# -- labels ---------------------------------------------------------------------------------
UNPARSED = "<unparsed>"


def parse_label(reply: str, labels: Sequence[str]) -> str:
    """The label the reply names: the one whose word appears first in it (case-insensitive,
    whole words), or UNPARSED when it names none."""
    best: tuple[int, str] | None = None
    for label in labels:
        match = re.search(r"(?<!\w)" + re.escape(label.lower()) + r"(?!\w)", reply.lower())
        if match and (best is None or match.start() < best[0]):
            best = (match.start(), label)
    return best[1] if best else UNPARSED


def accuracy(predicted: Sequence[str], gold: Sequence[str]) -> float:
    return sum(p == g for p, g in zip(predicted, gold, strict=True)) / len(gold) if gold else 0.0


def macro_f1(predicted: Sequence[str], gold: Sequence[str]) -> float:
    """F1 per gold label, averaged. An unparsed reply is a miss for its gold label and not a
    prediction of any gold label (as sklearn's f1_score(average='macro', labels=gold labels))."""
    labels = sorted(set(gold))
    if not labels:
        return 0.0
    total = 0.0
    for label in labels:
        tp = sum(p == label and g == label for p, g in zip(predicted, gold, strict=True))
        fp = sum(p == label and g != label for p, g in zip(predicted, gold, strict=True))
        fn = sum(p != label and g == label for p, g in zip(predicted, gold, strict=True))
        total += 2 * tp / (2 * tp + fp + fn) if tp else 0.0
    return total / len(labels)


# -- JSON -----------------------------------------------------------------------------------
_FENCE = re.compile(r"```(?:json)?\s*(.*?)```", re.DOTALL)


def extract_json(reply: str) -> tuple[bool, Any]:
    """(found, value): the reply as JSON, or the first fenced block, or its outermost {...}."""
    candidates = [reply.strip()]
    candidates += [m.strip() for m in _FENCE.findall(reply)]
    start, end = reply.find("{"), reply.rfind("}")
    if 0 <= start < end:
        candidates.append(reply[start:end + 1])
    for text in candidates:
        try:
            return True, json.loads(text)
        except ValueError:
            continue
    return False, None


def json_scores(reply: str, schema: dict[str, Any] | None) -> dict[str, float]:
    found, value = extract_json(reply)
    scores = {"json_valid": float(found)}
    if schema is not None:
        scores["schema"] = float(found and not schema_errors(value, schema))
    return scores


@dataclass(frozen=True)
class ReferenceScores:
    values: dict[str, float]
    bleu_tokenizer: str


def reference_scores(reply: str, references: Sequence[str],
                     wanted: Sequence[str] = REFERENCE_METRICS) -> ReferenceScores:
    """The wanted reference metrics of one reply (F1, ROUGE in 0-1; BLEU, chrF in 0-100)."""
    tokenize = bleu_tokenizer(references)
    values: dict[str, float] = {}
    if "exact_match" in wanted:
        values["exact_match"] = exact_match(reply, references)
    if "f1" in wanted:
        values["f1"] = token_f1(reply, references)
    if "bleu" in wanted:
        values["bleu"] = sentence_bleu(reply, references, tokenize)
    if "chrf" in wanted:
        values["chrf"] = sentence_chrf(reply, references)
    # rouge-score's tokenizer keeps only [a-z0-9] runs, so text in other scripts scores 0
    # whatever it says: leave ROUGE out there (the run counts it as skipped) rather than lie.
    if tokenize == "13a" and any(name in wanted for name in _ROUGE_TYPES):
        values.update({k: v for k, v in rouge(reply, references).items() if k in wanted})
    return ReferenceScores(values, tokenize)
