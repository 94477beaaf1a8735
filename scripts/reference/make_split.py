"""Reproduce the original analysis' 80/20 split of the CTDC data.

Writes the 0-based data-row indices (pandas index) of X_train and X_test,
in the order sklearn returns them, one per line, to Tests/Fixtures/.
"""
import os

from sklearn.model_selection import train_test_split

from common import FIXTURES, load_ctdc


def main():
    _, X, Ys = load_ctdc()
    X_train, X_test, y_train, y_test = train_test_split(
        X, Ys, test_size=0.2, random_state=42)
    assert len(X_train) == 72834 and len(X_test) == 18209
    for name, part in (("train", X_train), ("test", X_test)):
        path = os.path.join(FIXTURES, f"ctdc_split_{name}_rows.txt")
        with open(path, "w") as f:
            f.write("".join(f"{i}\n" for i in part.index))
        print(f"wrote {path}: {len(part)} rows")


if __name__ == "__main__":
    main()
