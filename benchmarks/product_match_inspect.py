"""Wrong-part decisions through Engine.inspect (the real hook: global distance and anomalous area).

Seed 0, one reference per category of ../shared/data/mvtec15 and bsdata: every test image of the
category (every 5th of bsdata's 80) and 3 test images of each other category are inspected against
it; prints per category and writes benchmarks/results/product_match_inspect.json.

    nice -n 15 .venv/bin/python benchmarks/product_match_inspect.py
"""
import json, numpy as np, sys
from pathlib import Path
sys.path.insert(0, str(Path(__file__).resolve().parent))  # product_match_study sits beside it
from product_match_study import categories
from anomalygpt_engine import Engine, EngineConfig, load_image
from anomalygpt_engine import product_match as pm
engine = Engine(EngineConfig(llm="none", num_threads=1))
cats = categories()
tests = {n: sorted((f / "test").rglob("*.png")) for n, f in cats}
rng = np.random.default_rng(0)
others_pick = {n: [p for p in np.array(tests[n])[rng.choice(len(tests[n]), 3, replace=False)]] for n, _ in cats}
out = {}
for name, folder in cats:
    train = sorted((folder / "train" / "good").glob("*.png"))
    ref = load_image(train[np.random.default_rng(0).integers(len(train))])
    refs = engine.build_references([ref], name)
    match = pm.learn([ref], lambda b: engine.encode(b).embedding.float().cpu().numpy(), seed=0)
    own_paths = tests[name] if not name.startswith("bsdata") else tests[name][::5]
    rows = []
    for kind, paths in (("own", own_paths), ("other", [p for o, _ in cats if o != name for p in others_pick[o]])):
        for p in paths:
            res = engine.inspect(load_image(p), refs)
            frac = float((res.anomaly_map >= 0.5).mean())
            rows.append((kind, match.distance(res.global_embedding), frac, res.score, str(p)))
    out[name] = {"drift": match.drift, "normal": match.normal_drift, "defects": list(match.defect_drifts), "rows": rows}
    own = [r for r in rows if r[0] == "own"]; oth = [r for r in rows if r[0] == "other"]
    print(name, f"own frac max {max(r[2] for r in own):.2f} other frac min {min(r[2] for r in oth):.2f} median {np.median([r[2] for r in oth]):.2f}", flush=True)
summary = {}
for name, d in out.items():
    own = [r for r in d["rows"] if r[0] == "own"]
    oth = [r for r in d["rows"] if r[0] == "other"]
    decide = lambda r: pm.decide(r[1], max(pm.FLOOR, pm.FACTOR * d["drift"]), r[2])  # noqa: E731
    summary[name] = {"own_wrong": sum(map(decide, own)), "own_n": len(own),
                     "other_wrong": sum(map(decide, oth)), "other_n": len(oth)}
    print(name, summary[name])
results = Path(__file__).resolve().parent / "results"
results.mkdir(exist_ok=True)
(results / "product_match_inspect.json").write_text(json.dumps({"summary": summary, "rows": out}, indent=1))
