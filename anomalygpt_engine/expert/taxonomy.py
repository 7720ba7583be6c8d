"""The coarse defect taxonomy that fits any product, and the mapping of dataset folder names onto it.

The mapping is explicit for every MVTec AD, VisA and BSData defect folder; unknown names fall back to
keywords ("bent_pin" -> deformation), so evaluation on unseen sets needs no code change.
"""
from __future__ import annotations

import enum
import re


class DefectType(str, enum.Enum):
    CRACK = "crack"  # crack, break, cut
    SCRATCH = "scratch"
    PIT = "pit"  # hole, pit, dent
    DEFORMATION = "deformation"  # bent, flipped, missing, swapped, misplaced
    DISCOLOURATION = "discolouration"  # stain, colour, glue, oil, print, foreign matter

    @property
    def words(self) -> str:
        return TYPE_WORDS[self]


TYPE_WORDS = {
    DefectType.CRACK: "a crack, break or cut",
    DefectType.SCRATCH: "a scratch",
    DefectType.PIT: "a hole, pit or dent",
    DefectType.DEFORMATION: "a deformation or misplacement (bent, flipped, missing or swapped)",
    DefectType.DISCOLOURATION: "a discolouration or contamination (stain, colour, glue, oil, print or foreign matter)",
}
SHORT_WORDS = {
    DefectType.CRACK: "crack / break / cut",
    DefectType.SCRATCH: "scratch",
    DefectType.PIT: "hole / pit / dent",
    DefectType.DEFORMATION: "deformation / misplacement",
    DefectType.DISCOLOURATION: "discolouration / contamination",
}

C, S, P, D, K = (DefectType.CRACK, DefectType.SCRATCH, DefectType.PIT, DefectType.DEFORMATION,
                 DefectType.DISCOLOURATION)
# MVTec AD (all 15 categories), VisA and BSData folder names.
KNOWN: dict[str, DefectType] = {
    # bottle, cable, capsule, carpet, grid, hazelnut, leather, metal_nut, pill, screw, tile, toothbrush,
    # transistor, wood, zipper
    "broken_large": C, "broken_small": C, "contamination": K,
    "bent_wire": D, "cable_swap": D, "combined": D, "cut_inner_insulation": C, "cut_outer_insulation": C,
    "missing_cable": D, "missing_wire": D, "poke_insulation": P,
    "crack": C, "faulty_imprint": K, "poke": P, "scratch": S, "squeeze": D,
    "color": K, "cut": C, "hole": P, "metal_contamination": K, "thread": K,
    "bent": D, "broken": C, "glue": K,
    "print": K, "fold": D, "glue_strip": K, "gray_stroke": K, "oil": K, "rough": K,
    "flip": D, "pill_type": K,
    "manipulated_front": D, "scratch_head": S, "scratch_neck": S, "thread_side": D, "thread_top": D,
    "glue_strip ": K, "defective": D,
    "bent_lead": D, "cut_lead": C, "damaged_case": C, "misplaced": D,
    "liquid": K,
    "broken_teeth": C, "fabric_border": D, "fabric_interior": K, "split_teeth": D, "squeezed_teeth": D,
    # BSData
    "pitting": P,
    # VisA (grouped names)
    "bad": D, "missing": D, "chip": C, "burnt": K, "stuck": D, "spot": K, "dirt": K, "extra": K,
    "weird_candle_wick": D, "wrong_place": D, "damage": C, "melt": D, "different_colour_spot": K,
    "fryum_stuck_together": D, "small_scratches": S, "burr": D, "dent": P,
}
_KEYWORDS = (
    (re.compile(r"crack|broken|break|cut|chip|split|tear|fracture"), C),
    (re.compile(r"scratch|scuff|abrasion|stroke"), S),
    (re.compile(r"pit|hole|poke|dent|pore|puncture|bubble|void"), P),
    (re.compile(r"bent|bend|flip|missing|swap|misplac|wrong|fold|squeez|deform|twist|manipul|shift|stuck|extra_part"), D),
    (re.compile(r"colou?r|stain|contamin|glue|oil|print|dirt|spot|burn|liquid|rust|thread|fiber|fibre|foreign|"
                r"imprint|ink|mark|residue|dust|smudge"), K),
)


def taxonomy_for(folder_type: str) -> DefectType | None:
    """The coarse type of a dataset's defect folder name; None for "good" or a name no rule covers."""
    name = folder_type.strip().lower()
    if name in ("good", "ok", "normal"):
        return None
    if name in KNOWN:
        return KNOWN[name]
    for pattern, kind in _KEYWORDS:
        if pattern.search(name):
            return kind
    return None
