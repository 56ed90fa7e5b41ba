"""Each metric equals its reference library's own output; statistics are reproducible; bad
input is refused or counted, not guessed at. No model here."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import sacrebleu
from rouge_score.rouge_scorer import RougeScorer
from sklearn.metrics import accuracy_score, f1_score

from core.evals import metrics as m
from core.evals.judge import parse_verdict
from core.evals.schema import schema_errors
from core.evals.sets import EvalSetError, iter_items, load_set, starter_sets
from core.evals.stats import bootstrap, mean_of, paired_bootstrap

REPLIES = ["The cat sat on the mat.", "A quick brown fox jumps.", "It rained all day long"]
REFS = [["The cat is on the mat.", "There is a cat on the mat."], ["The quick brown fox jumped."],
        ["It was raining the whole day."]]


def test_bleu_and_chrf_equal_sacrebleu() -> None:
    streams = [[r[0] for r in REFS], [r[1] if len(r) > 1 else None for r in REFS]]
    ours, tokenizer = m.corpus_bleu(REPLIES, REFS)
    assert tokenizer == "13a"
    assert ours == pytest.approx(sacrebleu.corpus_bleu(REPLIES, streams).score, abs=1e-9)
    assert m.corpus_chrf(REPLIES, REFS) == pytest.approx(
        sacrebleu.corpus_chrf(REPLIES, streams).score, abs=1e-9)
    for reply, refs in zip(REPLIES, REFS, strict=True):
        expected = sacrebleu.sentence_bleu(reply, refs, smooth_method="exp",
                                           use_effective_order=True).score
        assert m.sentence_bleu(reply, refs) == pytest.approx(expected, abs=1e-9)
        assert m.sentence_chrf(reply, refs) == pytest.approx(
            sacrebleu.sentence_chrf(reply, refs).score, abs=1e-9)
    assert 0 < ours < 100


def test_bleu_tokenizer_follows_the_script() -> None:
    zh_reply, zh_refs = "东京是日本的首都", ["日本的首都是东京"]
    assert m.bleu_tokenizer(zh_refs) == "char"
    assert m.bleu_tokenizer(["こんにちは世界"]) == "char"
    assert m.bleu_tokenizer(["Привет, мир"]) == "13a"
    expected = sacrebleu.sentence_bleu(zh_reply, zh_refs, tokenize="char",
                                       use_effective_order=True).score
    assert m.sentence_bleu(zh_reply, zh_refs) == pytest.approx(expected)
    # 13a sees one "word" each side and scores 0: the choice of tokenizer matters
    assert expected > 0 and sacrebleu.sentence_bleu(zh_reply, zh_refs, tokenize="13a").score == 0
    scores = m.reference_scores(zh_reply, zh_refs)
    assert scores.bleu_tokenizer == "char" and "rouge1" not in scores.values  # skipped, not 0


def test_rouge_equals_rouge_score() -> None:
    scorer = RougeScorer(["rouge1", "rouge2", "rougeL"], use_stemmer=True)
    for reply, refs in zip(REPLIES, REFS, strict=True):
        expected = scorer.score_multi(refs, reply)
        ours = m.rouge(reply, refs)
        for name in ("rouge1", "rouge2", "rougeL"):
            assert ours[name] == pytest.approx(expected[name].fmeasure, abs=1e-12)
    assert m.rouge(REPLIES[0], REFS[0])["rouge1"] > 0


def test_exact_match_and_f1_by_hand() -> None:
    assert m.exact_match("The Eiffel Tower!", ["eiffel tower"]) == 1.0
    assert m.exact_match("Eiffel", ["eiffel tower"]) == 0.0
    # "big red dog" vs "the red dog barked": common {red, dog}: P 2/3, R 2/3 -> 2/3
    assert m.token_f1("big red dog", ["the red dog barked"]) == pytest.approx(2 / 3)
    assert m.token_f1("red", ["blue", "a red"]) == 1.0  # best reference wins
    assert m.token_f1("", ["red"]) == 0.0


def test_labels_equal_sklearn() -> None:
    gold = ["positive", "negative", "negative", "positive", "negative", "positive"]
    replies = ["Positive.", "It is negative", "I cannot tell", "negative, not positive",
               "NEGATIVE", "positive"]
    predicted = [m.parse_label(r, ["negative", "positive"]) for r in replies]
    assert predicted == ["positive", "negative", m.UNPARSED, "negative", "negative", "positive"]
    assert m.accuracy(predicted, gold) == pytest.approx(accuracy_score(gold, predicted))
    expected = f1_score(gold, predicted, average="macro", labels=["negative", "positive"])
    assert m.macro_f1(predicted, gold) == pytest.approx(expected)
    assert m.accuracy(predicted, gold) == pytest.approx(4 / 6)


def test_json_validity_and_schema() -> None:
    schema = {"type": "object", "required": ["name", "age"],
              "properties": {"name": {"type": "string"}, "age": {"type": "integer"}}}
    assert m.json_scores('{"name": "Ana", "age": 3}', schema) == {"json_valid": 1.0,
                                                                  "schema": 1.0}
    assert m.json_scores('Sure!\n```json\n{"name": "Ana", "age": "3"}\n```', schema) == {
        "json_valid": 1.0, "schema": 0.0}
    assert m.json_scores("name: Ana", schema) == {"json_valid": 0.0, "schema": 0.0}
    assert schema_errors(True, {"type": "integer"})  # JSON true is not a number
    assert schema_errors({"a": 1}, {"type": "object", "patternProperties": {}})  # unsupported


def test_judge_verdicts_parse_or_are_unparsed() -> None:
    good = parse_verdict("Reasoning: right city, clear.\nScore: 4")
    assert good.parsed and good.score == 4 and good.normalised == 1.0
    assert good.reasoning == "right city, clear."
    assert parse_verdict("**Score:** 2").score == 2
    for off in ("I would give it a 4.", "Score: 9", "Score: 2\nScore: 3", ""):
        verdict = parse_verdict(off)
        assert not verdict.parsed and verdict.score is None and verdict.raw == off


def test_bootstrap_is_reproducible_and_paired_detects_a_difference() -> None:
    values = [1.0, 0.0, 1.0, 1.0, 0.0, 1.0, 1.0, 1.0, 0.0, 1.0] * 3
    a = bootstrap(mean_of(values), len(values), seed=7)
    assert a == bootstrap(mean_of(values), len(values), seed=7)
    assert a.value == pytest.approx(0.7) and a.low < a.value < a.high
    spread = [0.1 * i for i in range(30)]  # continuous values: another seed moves the bounds
    assert bootstrap(mean_of(spread), 30, seed=8) != bootstrap(mean_of(spread), 30, seed=7)
    worse = [0.0] * 30
    diff = paired_bootstrap(mean_of(values), mean_of(worse), 30)
    assert diff.significant and diff.delta == pytest.approx(0.7)
    same = paired_bootstrap(mean_of(values), mean_of(values), 30)
    assert not same.significant and same.p_value == 1.0


def test_starter_sets_load() -> None:
    names = {p.stem for p in starter_sets()}
    assert {"facts", "sentiment", "json_extract", "summaries", "multiple_choice"} <= names
    for path in starter_sets():
        eval_set = load_set(path)
        assert 10 <= len(eval_set) <= 20


def test_ten_thousand_items_load_fast(tmp_path: Path) -> None:
    path = tmp_path / "big.jsonl"
    with open(path, "w", encoding="utf-8") as handle:
        for i in range(10_000):
            handle.write(json.dumps({"id": f"i{i}", "prompt": f"What is {i}+1?",
                                     "references": [str(i + 1)]}) + "\n")
    started = time.perf_counter()
    first = next(iter_items(path))  # streams: the first item without reading the rest
    assert first.id == "i0" and time.perf_counter() - started < 0.5
    eval_set = load_set(path)
    assert len(eval_set) == 10_000 and time.perf_counter() - started < 5


def test_csv_and_bad_items(tmp_path: Path) -> None:
    good = tmp_path / "s.csv"
    good.write_text("id,prompt,references,choices,answer,label\n"
                    "a,Capital of France?,Paris || paris city,,,\n"
                    "b,Pick one,,red | blue,blue,\n", encoding="utf-8")
    items = load_set(good).items
    assert items[0].references == ("Paris", "paris city") and items[1].answer == 1
    for bad, why in (('{"prompt": ""}', "no prompt"), ("not json", "not JSON"),
                     ('{"prompt": "p", "choices": ["a"], "answer": 3}', "answer"),
                     ('{"id": "x", "prompt": "p"}\n{"id": "x", "prompt": "q"}', "twice")):
        path = tmp_path / "bad.jsonl"
        path.write_text(bad + "\n", encoding="utf-8")
        with pytest.raises(EvalSetError, match=why):
            load_set(path)
