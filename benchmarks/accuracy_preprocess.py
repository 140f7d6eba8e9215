"""Accuracy of preprocessing on the synthetic twin against its ground truth (issue #5 goals), printed.

    python benchmarks/accuracy_preprocess.py [--limit N] [--csv errors.csv]

Goals: nipple within 5 mm in >= 97% of views, breast-mask Dice >= 0.97, pectoral edge within 3 mm mean
distance on MLO. Uses the preprocessing cache, so a second run only re-reads the ground truth.
"""
from __future__ import annotations

import argparse

import pandas as pd


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, help="first N views of the manifest only")
    parser.add_argument("--csv", help="also write the per-view errors here")
    args = parser.parse_args()
    from mammo_lib.paper.preprocessing import twin_accuracy
    from mammo_lib.preprocess import summarise_accuracy

    errors = twin_accuracy(limit=args.limit, progress=True)
    if args.csv:
        errors.to_csv(args.csv, index=False)
    pd.set_option("display.width", 160)
    print(summarise_accuracy(errors).round(3).to_string(index=False))
    by = errors.groupby(["vendor", "view"]).agg(views=("dice", "size"), nipple_mm_median=("nipple_mm", "median"),
                                                nipple_mm_p95=("nipple_mm", lambda s: s.quantile(0.95)),
                                                dice_min=("dice", "min"), pectoral_mm_mean=("pectoral_mm", "mean"))
    print(by.round(2).to_string())
    worst = errors.sort_values("nipple_mm", ascending=False).head(5)
    print("worst nipple errors:\n" + worst[["image_id", "view", "nipple_mm", "dice", "pectoral_mm"]].round(2).to_string(index=False))


if __name__ == "__main__":
    main()
