#!/usr/bin/env python3
"""Derives the Winograd (Toom-Cook) matrices of Sources/CKernels/internal.h and checks them.

For 4 outputs of a correlation with r taps, y = Aᵀ[(G g) ⊙ (Bᵀ d)] over the points 0, 1, −1, 1/2, −2 (r = 3) and
0, 1, −1, 2, −2, 1/2 (r = 4), and ∞: G and Aᵀ are Vandermonde matrices, Bᵀ is the transposed inverse of the
Vandermonde matrix of all the points (the transposition principle applied to Toom-Cook multiplication).

    python3 scripts/tools/winograd_matrices.py            # prints the matrices as C initializers, checks them
    python3 scripts/tools/winograd_matrices.py --compare  # also the float32 error of other point sets

The check: exact identity in rational arithmetic, then the float32 error of a 128-channel sum against float64,
next to a direct float32 sum's (numpy).
"""
import sys
from fractions import Fraction as F

import numpy as np


def inverse(m):
    n = len(m)
    a = [row[:] + [F(int(i == j)) for j in range(n)] for i, row in enumerate(m)]
    for c in range(n):
        p = next(r for r in range(c, n) if a[r][c] != 0)
        a[c], a[p] = a[p], a[c]
        pivot = a[c][c]
        a[c] = [v / pivot for v in a[c]]
        for r in range(n):
            if r != c and a[r][c] != 0:
                f = a[r][c]
                a[r] = [x - f * y for x, y in zip(a[r], a[c])]
    return [row[n:] for row in a]


def vandermonde(points, columns):
    rows = [[p ** j for j in range(columns)] for p in points]
    rows.append([F(0)] * (columns - 1) + [F(1)])   # the point at infinity
    return rows


def toom_cook(m, r, points):
    n = m + r - 1
    assert len(points) == n - 1
    c = inverse(vandermonde(points, n))
    g = vandermonde(points, r)
    h = vandermonde(points, m)
    at = [[h[i][k] for i in range(n)] for k in range(m)]
    bt = [[c[j][i] for j in range(n)] for i in range(n)]
    return at, g, bt


def check(m, r, points, rng):
    at, g, bt = toom_cook(m, r, points)
    n = m + r - 1
    # Exact: every output is the correlation, for symbolic unit inputs and taps.
    for k in range(m):
        for j in range(r):
            for l in range(n):
                value = sum(at[k][i] * g[i][j] * bt[i][l] for i in range(n))
                assert value == (1 if l == k + j else 0), (k, j, l, value)
    A, G, B = (np.array(x, dtype=np.float64) for x in (at, g, bt))
    channels, worst, direct = 128, [], []
    for _ in range(200):
        d = rng.standard_normal((channels, n)).astype(np.float32)
        w = (rng.standard_normal((channels, r)) / np.sqrt(channels * r)).astype(np.float32)
        exact = sum(np.correlate(d[c].astype(np.float64), w[c].astype(np.float64), "valid") for c in range(channels))
        u = (w @ G.T.astype(np.float32)).astype(np.float32)
        v = (d @ B.T.astype(np.float32)).astype(np.float32)
        y = A.astype(np.float32) @ (u * v).sum(0, dtype=np.float32)
        worst.append(np.abs(y - exact).max())
        direct.append(np.abs(sum(np.correlate(d[c], w[c], "valid") for c in range(channels)) - exact).max())
    return at, g, bt, float(np.mean(worst)), float(np.mean(direct))


def c_value(v):
    return str(v) if v.denominator == 1 else f"{v.numerator}.0f / {v.denominator}"


def main():
    rng = np.random.default_rng(0)
    used = [(4, 3, [0, 1, -1, F(1, 2), -2]), (4, 4, [0, 1, -1, 2, -2, F(1, 2)])]
    for m, r, points in used:
        at, g, bt, error, direct = check(m, r, [F(p) for p in points], rng)
        print(f"F({m},{r}) points {[str(p) for p in points]} + inf: float32 error {error:.2e} (direct sum {direct:.2e})")
        for name, matrix in (("AT", at), ("G", g), ("BT", bt)):
            print(f"static const float ck_wg{r}_{name}[{len(matrix)}][{len(matrix[0])}] = {{")
            for row in matrix:
                print("    {" + ", ".join(c_value(v) for v in row) + "},")
            print("};")
    if "--compare" in sys.argv:
        for m, r, points in [(4, 3, [0, 1, -1, 2, -2]), (4, 3, [0, 1, -1, F(1, 2), -F(1, 2)]),
                             (4, 4, [0, 1, -1, F(1, 2), -F(1, 2), 2]), (4, 4, [0, 1, -1, F(1, 2), -2, 2])]:
            *_, error, direct = check(m, r, [F(p) for p in points], rng)
            print(f"F({m},{r}) points {[str(p) for p in points]}: float32 error {error:.2e} (direct {direct:.2e})")


if __name__ == "__main__":
    main()
