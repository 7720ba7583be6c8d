"""Expert descriptions of defects (after IAD-GPT): measured region attributes, a coarse defect-type
classifier, product knowledge with disposition rules, intents by meaning, and multi-mask fusion.

Every fact here is measured from the inspection (map, image, nearest reference) or written by the
product's engineer; the LLM only phrases them.
"""
from __future__ import annotations

from anomalygpt_engine.expert.attributes import RegionAttributes, measure_regions
from anomalygpt_engine.expert.taxonomy import DefectType, taxonomy_for

__all__ = ["DefectType", "RegionAttributes", "measure_regions", "taxonomy_for"]
