"""Evidence sentences, the grounding check and the extractive fallback."""

import numpy as np

from core.presenters.compare import latency_caption
from core.rag.evidence import Evidence, Finished, finish, focus, grounded, sentences


class WordEmbedder:
    """Bag-of-words vectors: cosine similarity = shared words, enough to rank sentences."""

    def encode(self, texts, normalize_embeddings=True):
        vocab = sorted({w for t in texts for w in t.lower().strip("?.").split()})
        out = np.array([[t.lower().strip("?.").split().count(w) for w in vocab] for t in texts],
                       dtype=float)
        return out / np.linalg.norm(out, axis=1, keepdims=True)


CHUNKS = ["# Staff\n\nThe director is Hollis Bramwen. The chief engineer is Marguerite Osk.",
          "The observatory employs 27 people.\n- Night shifts start at 7 pm\n- Cafe: The Eyepiece"]


def test_sentences_drop_headings_and_split_list_items():
    assert sentences(CHUNKS[0]) == ["The director is Hollis Bramwen.",
                                    "The chief engineer is Marguerite Osk."]
    assert sentences(CHUNKS[1]) == ["The observatory employs 27 people.",
                                    "- Night shifts start at 7 pm", "- Cafe: The Eyepiece"]


def test_focus_keeps_the_closest_sentences_best_last_and_the_passage_after_the_best():
    picked = focus("Who is the director?", CHUNKS, WordEmbedder(), k=2)
    assert picked.sentences[-1] == "The director is Hollis Bramwen."
    assert len(picked.sentences) == 2 and "director" not in picked.sentences[0]
    # the passage continues into the next sentence of the same chunk
    assert picked.passage == ("The director is Hollis Bramwen. "
                              "The chief engineer is Marguerite Osk.")
    last = focus("Who is the chief engineer?", CHUNKS, WordEmbedder(), k=1)
    assert last.sentences == ["The chief engineer is Marguerite Osk."] == [last.passage]
    assert focus("q", ["# Only a heading"], WordEmbedder()) is None


def test_grounded_needs_new_content_found_in_the_evidence():
    evidence = "The chief engineer is Marguerite Osk."
    q = "Who is the chief engineer?"
    assert grounded("Marguerite Osk", evidence, q)
    assert grounded("The chief engineer is Marguerite Osk.", evidence, q)
    assert not grounded("Dr. Elena Vergara", evidence, q)  # invented
    assert not grounded("The chief engineer is", evidence, q)  # says nothing new
    assert not grounded("", evidence, q)


def test_finish_falls_back_to_the_passage_and_keeps_the_model_text():
    evidence = Evidence(["The director is Hollis Bramwen.", "The chief engineer is Osk."],
                        "The chief engineer is Osk. He joined in 1990.")
    assert finish("Osk", evidence, "Who is the chief engineer?") == Finished("Osk")
    out = finish("The Lorrin Bridge", evidence, "Who is the chief engineer?")
    assert out == Finished(evidence.passage, extractive=True, generated="The Lorrin Bridge")
    assert finish("Who is the chief engineer?", evidence, "Who is the engineer?").extractive
    assert finish("anything", None, "q?") == Finished("anything")  # no evidence: unchanged


def test_the_page_caption_says_when_an_answer_is_extractive_and_escapes_it():
    result = {"seconds": 1.0, "tokens": 5, "retrieval_seconds": 0.1, "sources": [{}],
              "extractive": True, "answer": "The engineer is *Osk*.",
              "generated": "<b>Lorrin</b>"}
    caption = latency_caption(result)
    assert "Answered from the sources" in caption and r"\*Osk\*" in caption
    assert "<b>" not in caption
    assert "Answered" not in latency_caption({**result, "extractive": False})
