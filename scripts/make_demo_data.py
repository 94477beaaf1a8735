#!/usr/bin/env python3
"""Make the demo data set and job spec: jobs/demo/demo.csv, jobs/demo/expected.json, jobs/demo.json.

The data are SYNTHETIC, drawn from a logistic model with the coefficients in TRUTH below (fixed
seed), laid out like the raw CTDC case records (codebook of ../shared/seeds/001_*.txt): text
gender / ageBroad / ISO alpha-2 country codes, indicators written as 1 or an empty cell, and
exploitation types as 1 / 0 / empty. Nothing is copied from the real data.

How a row is made (all draws from numpy's PCG64 with seed SEED, uniforms only, so the bytes do
not depend on numpy's version-specific samplers):

1. CountryOfExploitation: US / MX / CA / other codes / empty (COUNTRY below).
2. A latent "labour context" flag L ~ Bernoulli(0.3). It raises the chance of debt bondage,
   excessive hours, withheld documents, an "other" recruiter and foreign citizenship, so the
   features are correlated (as in the real data); L itself does NOT enter the outcome model.
3. gender, ageBroad (some empty), citizenship (some empty), 8 means-of-control and 4 recruiter
   indicators, drawn given L.
4. The features are encoded exactly as jobs/demo.json encodes them (Male = reference, ageBroad
   ordinal 1..9 with an "Age band: missing" indicator, citizen = citizenship == country,
   indicators 1/0) and each outcome is drawn as Bernoulli(1 / (1 + exp(-(b0 + x . b)))) with
   the TRUTH coefficients. So the spec's model is the true model of y given x.
5. Whether the row carries information on the type of exploitation is an independent
   Bernoulli(0.92) (MCAR). Rows without it have isForcedLabour, isSexualExploit and
   isOtherExploit all empty (the spec drops them: the codebook's denominator rule). In rows with
   it, a 1 is written "1" and a 0 is written "0" or left empty at random (the spec sets a
   missing outcome to 0); if all three cells would be empty, one of them gets "0".

Run from the repository root: python3 scripts/make_demo_data.py
"""

import json
import math
import os
from collections import OrderedDict

import numpy as np

SEED = 20251207
N = 3000
ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
OUT_DIR = os.path.join(ROOT, "jobs", "demo")

COUNTRY = [("US", 0.66), ("MX", 0.13), ("CA", 0.10), ("GB", 0.03), ("PH", 0.03), ("GT", 0.02), ("IN", 0.02),
           ("", 0.01)]
KEPT_COUNTRIES = ["US", "MX", "CA"]
FOREIGN = ["MX", "GT", "HN", "PH", "CN", "IN", "US", "CA"]  # citizenship when it is not the country's
GENDER = [("Female", 0.60), ("Male", 0.32), ("Transgender", 0.02), ("Unknown", 0.06)]
AGE_LEVELS = ["0--8", "9--17", "18--20", "21--23", "24--26", "27--29", "30--38", "39--47", "48+"]
AGE_P = [0.03, 0.17, 0.14, 0.13, 0.11, 0.09, 0.14, 0.07, 0.04]  # of the non-missing ages
AGE_MISSING = 0.12
CITIZEN_MISSING = 0.10

MEANS = ["meansDebtBondageEarnings", "meansThreats", "meansAbusePsyPhySex", "meansFalsePromises",
         "meansDrugsAlcohol", "meansDenyBasicNeeds", "meansExcessiveWorkHours", "meansWithholdDocs"]
# P(indicator = 1) without / with the latent labour context.
MEANS_P = {"meansDebtBondageEarnings": (0.08, 0.40), "meansThreats": (0.25, 0.35), "meansAbusePsyPhySex": (0.30, 0.25),
           "meansFalsePromises": (0.10, 0.20), "meansDrugsAlcohol": (0.15, 0.05), "meansDenyBasicNeeds": (0.12, 0.20),
           "meansExcessiveWorkHours": (0.04, 0.30), "meansWithholdDocs": (0.05, 0.30)}
RECRUITERS = ["recruiterRelationIntimatePartner", "recruiterRelationFriend", "recruiterRelationFamily",
              "recruiterRelationOther"]
RECRUITERS_P = {"recruiterRelationIntimatePartner": (0.15, 0.04), "recruiterRelationFriend": (0.08, 0.06),
                "recruiterRelationFamily": (0.10, 0.08), "recruiterRelationOther": (0.08, 0.35)}
LABOUR_CONTEXT = 0.30
FOREIGN_P = (0.25, 0.75)  # P(citizenship != country) without / with the labour context
INFO_P = 0.92  # P(the row carries information on the type of exploitation)
ZERO_WRITTEN_P = 0.5  # P(a 0 outcome is written "0" rather than left empty)

# The spec's features: (report name, column, group).
FEATURES = [
    ("Age band", "ageBroad", "Demographics"),
    ("Gender", "gender", "Demographics"),
    ("Is citizen of country", "citizenship", "Demographics"),
    ("Means debt bondage / earnings", "meansDebtBondageEarnings", "Means of control"),
    ("Means threats", "meansThreats", "Means of control"),
    ("Means abuse (psy/phy/sex)", "meansAbusePsyPhySex", "Means of control"),
    ("Means false promises", "meansFalsePromises", "Means of control"),
    ("Means drugs / alcohol", "meansDrugsAlcohol", "Means of control"),
    ("Means deny basic needs", "meansDenyBasicNeeds", "Means of control"),
    ("Means excessive work hours", "meansExcessiveWorkHours", "Means of control"),
    ("Means withhold documents", "meansWithholdDocs", "Means of control"),
    ("Recruiter intimate partner", "recruiterRelationIntimatePartner", "Recruiter relation"),
    ("Recruiter friend", "recruiterRelationFriend", "Recruiter relation"),
    ("Recruiter family", "recruiterRelationFamily", "Recruiter relation"),
    ("Recruiter other", "recruiterRelationOther", "Recruiter relation"),
]

# True coefficients (log odds) by ENCODED feature name, as the report prints them.
# (isForcedLabour, isSexualExploit); 0 marks a true zero.
TRUTH = OrderedDict([
    ("const", (-1.0, -0.6)),
    ("Age band", (-0.10, 0.08)),
    ("Age band: missing", (0.0, 0.0)),
    ("Gender: Female", (-1.5, 1.8)),
    ("Gender: Transgender", (-1.0, 1.5)),
    ("Gender: Unknown", (0.0, 0.0)),
    ("Is citizen of country", (-0.6, 0.5)),
    ("Means debt bondage / earnings", (1.2, -0.8)),
    ("Means threats", (0.5, 0.0)),
    ("Means abuse (psy/phy/sex)", (0.0, 0.4)),
    ("Means false promises", (0.8, -0.4)),
    ("Means drugs / alcohol", (-0.9, 1.5)),
    ("Means deny basic needs", (0.5, 0.0)),
    ("Means excessive work hours", (2.0, -1.5)),
    ("Means withhold documents", (0.0, 0.0)),
    ("Recruiter intimate partner", (-0.5, 0.8)),
    ("Recruiter friend", (0.0, 0.4)),
    ("Recruiter family", (0.0, 0.0)),
    ("Recruiter other", (1.0, -0.8)),
])
OTHER_EXPLOIT_LOGIT = -2.5  # isOtherExploit: a constant rate, not modelled by the spec


def main():
    rng = np.random.Generator(np.random.PCG64(SEED))

    def uniform(n=N):
        return rng.random(n)

    def categorical(options, n=N):
        labels = [o for o, _ in options]
        cum = np.cumsum([p for _, p in options])
        cum /= cum[-1]
        idx = np.searchsorted(cum, uniform(n), side="right")
        return np.array(labels, dtype=object)[np.minimum(idx, len(labels) - 1)]

    def bernoulli(p):
        return uniform() < p

    country = categorical(COUNTRY)
    labour = bernoulli(LABOUR_CONTEXT)
    gender = categorical(GENDER)
    age_missing = bernoulli(AGE_MISSING)
    age_index = np.searchsorted(np.cumsum(AGE_P) / sum(AGE_P), uniform(), side="right")
    age_index = np.minimum(age_index, len(AGE_LEVELS) - 1)
    age = np.where(age_missing, "", np.array(AGE_LEVELS, dtype=object)[age_index])
    foreign = bernoulli(np.where(labour, FOREIGN_P[1], FOREIGN_P[0]))
    foreign_code = categorical([(c, 1.0) for c in FOREIGN])
    # A foreign citizen whose drawn code equals the country gets the next code in the list.
    same = foreign_code == country
    foreign_code[same] = [FOREIGN[(FOREIGN.index(c) + 1) % len(FOREIGN)] for c in foreign_code[same]]
    citizenship = np.where(foreign, foreign_code, country)
    citizen_missing = bernoulli(CITIZEN_MISSING)
    citizenship = np.where(citizen_missing, "", citizenship)
    indicators = {}
    for name in MEANS:
        indicators[name] = bernoulli(np.where(labour, MEANS_P[name][1], MEANS_P[name][0]))
    for name in RECRUITERS:
        indicators[name] = bernoulli(np.where(labour, RECRUITERS_P[name][1], RECRUITERS_P[name][0]))

    # The encoded design, exactly as jobs/demo.json encodes it.
    x = OrderedDict()
    x["Age band"] = np.where(age_missing, 0.0, age_index + 1.0)
    x["Age band: missing"] = age_missing.astype(float)
    x["Gender: Female"] = (gender == "Female").astype(float)
    x["Gender: Transgender"] = (gender == "Transgender").astype(float)
    x["Gender: Unknown"] = (gender == "Unknown").astype(float)
    x["Is citizen of country"] = ((citizenship != "") & (citizenship == country)).astype(float)
    for report, column, _ in FEATURES[3:]:
        x[report] = indicators[column].astype(float)
    assert list(x) == list(TRUTH)[1:]

    outcomes = {}
    for k, name in enumerate(["isForcedLabour", "isSexualExploit"]):
        eta = TRUTH["const"][k] + sum(TRUTH[f][k] * x[f] for f in x)
        outcomes[name] = uniform() < 1.0 / (1.0 + np.exp(-eta))
    outcomes["isOtherExploit"] = uniform() < 1.0 / (1.0 + math.exp(-OTHER_EXPLOIT_LOGIT))

    info = bernoulli(INFO_P)
    out_names = ["isForcedLabour", "isSexualExploit", "isOtherExploit"]
    written = {}
    zero_written = {name: bernoulli(ZERO_WRITTEN_P) for name in out_names}
    rescue = np.minimum((uniform() * 3).astype(int), 2)  # which column gets "0" if all would be empty
    for name in out_names:
        written[name] = np.where(~info, "", np.where(outcomes[name], "1", np.where(zero_written[name], "0", "")))
    all_empty = info & np.all([written[n] == "" for n in out_names], axis=0)
    for j, name in enumerate(out_names):
        fix = all_empty & (rescue == j)
        written[name] = np.where(fix, "0", written[name])
    assert not np.any(info & np.all([written[n] == "" for n in out_names], axis=0))

    # Raw CSV in the CTDC column order (the v2025 codebook's variables 1-5, 7-17, 24-27).
    years = (2015 + np.minimum((uniform() * 9).astype(int), 8)).astype(str)
    columns = OrderedDict()
    columns["yearOfRegistration"] = years
    columns["gender"] = gender
    columns["ageBroad"] = age
    columns["citizenship"] = citizenship
    columns["CountryOfExploitation"] = country
    for name in MEANS:
        columns[name] = np.where(indicators[name], "1", "")
    for name in out_names:
        columns[name] = written[name]
    for name in RECRUITERS:
        columns[name] = np.where(indicators[name], "1", "")
    os.makedirs(OUT_DIR, exist_ok=True)
    with open(os.path.join(OUT_DIR, "demo.csv"), "w", newline="") as f:
        f.write(",".join(columns) + "\n")
        for i in range(N):
            f.write(",".join(str(columns[c][i]) for c in columns) + "\n")

    # What the spec must find: row accounting and the encoded design.
    in_country = np.isin(country, KEPT_COUNTRIES)
    kept = in_country & info
    dropped = [
        {"rule": "filter CountryOfExploitation in [US, MX, CA]", "rows": int((~in_country).sum())},
        {"rule": "includeIfAnyPresent isForcedLabour, isSexualExploit, isOtherExploit",
         "rows": int((in_country & ~info).sum())},
    ]
    expected = OrderedDict([
        ("generator", "scripts/make_demo_data.py"),
        ("seed", SEED),
        ("rowsRead", N),
        ("rowsKept", int(kept.sum())),
        ("dropped", dropped),
        ("featureNames", list(TRUTH)[1:]),
        ("patterns", int(np.unique(np.column_stack([x[f][kept] for f in x]), axis=0).shape[0])),
        ("outcomePositives", OrderedDict((n, int((outcomes[n] & kept).sum())) for n in ["isForcedLabour", "isSexualExploit"])),
        ("featureSums", OrderedDict((f, float(x[f][kept].sum())) for f in x)),
        ("truth", OrderedDict((f, OrderedDict([("isForcedLabour", b[0]), ("isSexualExploit", b[1])])) for f, b in TRUTH.items())),
    ])
    with open(os.path.join(OUT_DIR, "expected.json"), "w") as f:
        json.dump(expected, f, indent=2)
        f.write("\n")

    # The job spec.
    def truth_text(k):
        return "; ".join(f"{f} {b[k]:+g}" for f, b in TRUTH.items())

    features = []
    for report, column, group in FEATURES:
        feature = OrderedDict([("name", report), ("column", column)])
        if column == "ageBroad":
            feature["encoding"] = {"type": "ordinal", "levels": AGE_LEVELS, "start": 1}
            feature["missing"] = "own-level"
        elif column == "gender":
            feature["encoding"] = {"type": "onehot", "reference": "Male", "levels": ["Male", "Female", "Transgender", "Unknown"]}
        elif column == "citizenship":
            feature["encoding"] = {"type": "equals", "other": "CountryOfExploitation"}
            feature["missing"] = "zero"
        else:
            feature["encoding"] = "binary"
        feature["group"] = group
        features.append(feature)
    spec = OrderedDict([
        ("name", "Demo: synthetic CTDC-shaped records with known coefficients"),
        ("description",
         f"SYNTHETIC data made by scripts/make_demo_data.py (seed {SEED}, {N} rows, raw CTDC layout), drawn from a "
         "logistic model of the encoded features below, so the estimates can be compared with the truth. "
         "Gender 'Unknown' is kept as its own one-hot level (true coefficient 0), not merged into the reference Male. "
         "True coefficients, isForcedLabour: " + truth_text(0) + ". isSexualExploit: " + truth_text(1) + ". "
         "See jobs/demo/expected.json for the row counts and jobs/README.md."),
        ("data", OrderedDict([
            ("csv", "demo/demo.csv"),
            ("filter", [{"column": "CountryOfExploitation", "in": KEPT_COUNTRIES}]),
            ("includeIfAnyPresent", ["isForcedLabour", "isSexualExploit", "isOtherExploit"]),
        ])),
        ("outcomes", [{"name": n, "missing": "zero"} for n in ["isForcedLabour", "isSexualExploit"]]),
        ("features", features),
        ("penalty", {"scale": "sum", "penalizeIntercept": False, "standardize": False}),
        ("alphas", {"count": 30, "minRatio": 0.001}),
        ("cv", {"folds": 5, "metric": "auc", "rule": "min", "choose": "joint"}),
        ("bootstrap", {"resamples": 499, "methods": ["percentile", "basic", "normal", "bca"], "level": 0.95}),
        ("seed", SEED),
    ])
    with open(os.path.join(ROOT, "jobs", "demo.json"), "w") as f:
        f.write(render_spec(spec))

    print(f"wrote jobs/demo/demo.csv ({os.path.getsize(os.path.join(OUT_DIR, 'demo.csv'))} bytes), "
          f"jobs/demo/expected.json, jobs/demo.json")
    print(f"rows read {N}, kept {int(kept.sum())}, dropped " + ", ".join(f"{d['rows']} ({d['rule']})" for d in dropped))
    print("positives among kept rows: " + ", ".join(f"{k} {v}" for k, v in expected["outcomePositives"].items()))


def render_spec(spec):
    """JSON with one feature per line, like the other specs in jobs/."""
    lines = ["{"]
    items = list(spec.items())
    for i, (key, value) in enumerate(items):
        comma = "," if i < len(items) - 1 else ""
        if key in ("features", "outcomes"):
            lines.append(f'  "{key}": [')
            for j, v in enumerate(value):
                lines.append("    " + json.dumps(v) + ("," if j < len(value) - 1 else ""))
            lines.append("  ]" + comma)
        else:
            lines.append(f'  "{key}": ' + json.dumps(value) + comma)
    lines.append("}")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
