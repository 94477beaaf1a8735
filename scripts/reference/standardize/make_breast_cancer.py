#!/usr/bin/env python3
"""Writes the breast cancer fixtures of issue 11 (standardization, `run --data`, `predict`).

- Tests/Fixtures/breast_cancer.csv: scikit-learn's load_breast_cancer table (569 rows, 30
  continuous features on their raw units) written by pandas' default `to_csv`, so it starts with
  pandas' unnamed index column; the outcome `malignant` is True/False (True = malignant, i.e.
  sklearn's target 0).
- Tests/Fixtures/breast_cancer_glmnet.json: R glmnet `standardize=TRUE` fits of `malignant` on
  the 30 features at three lambdas (thresh 1e-22), coefficients on the original scale, made by
  glmnet_standardize.R.
- Tests/Fixtures/breast_cancer_predict.json: scikit-learn `LogisticRegression.predict_proba`
  for the first glmnet fit's coefficients on the last 69 rows (the held-out rows of the
  `predict` test), the coefficients set by hand (no refit).

Usage: python3 make_breast_cancer.py   (needs scikit-learn, pandas; Rscript with glmnet)
Deterministic: rerunning gives byte-identical files.
"""
import json
import os
import subprocess
import sys

import numpy as np
import pandas as pd
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression

HERE = os.path.dirname(os.path.abspath(__file__))
FIX = os.path.join(HERE, "..", "..", "..", "Tests", "Fixtures")

bc = load_breast_cancer(as_frame=True)
df = bc.data.copy()
df["malignant"] = bc.target == 0
csv = os.path.join(FIX, "breast_cancer.csv")
df.to_csv(csv)  # pandas' default: the unnamed index column first

out = os.path.join(FIX, "breast_cancer_glmnet.json")
subprocess.run(["Rscript", os.path.join(HERE, "glmnet_standardize.R"), csv, out], check=True)

# predict_proba of the first glmnet fit on the held-out rows 500..568.
with open(out) as f:
    ref = json.load(f)
fit = ref["fits"][0]
names = list(bc.data.columns)
coef = np.array([fit["coefficients"][n] for n in names])
model = LogisticRegression()
model.classes_ = np.array([0, 1])
model.coef_ = coef.reshape(1, -1)
model.intercept_ = np.array([fit["intercept"]])
held = df.iloc[500:][names].to_numpy(dtype=float)
proba = model.predict_proba(held)[:, 1]
with open(os.path.join(FIX, "breast_cancer_predict.json"), "w") as f:
    json.dump({
        "source": "scikit-learn LogisticRegression.predict_proba with coef_/intercept_ set to breast_cancer_glmnet.json fits[0]",
        "sklearn": __import__("sklearn").__version__,
        "rows": list(range(500, 569)),
        "probability": [float(repr_p) for repr_p in proba],
    }, f, indent=1)
    f.write("\n")
print("wrote", csv, out)
