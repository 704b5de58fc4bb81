"""Special functions on arrays: the logistic sigmoid, and the error function for GELU's exact
form.

NumPy has no erf. We use W. J. Cody's rational Chebyshev approximations (the coefficient sets
of Netlib SPECFUN ``CALERF``, also used by SciPy/Cephes), accurate to about 1e-15 relative in
float64; evaluated in float32 for float32 input, they are float32-accurate (no float64
temporaries). CuPy has ``cupyx.scipy.special.erf``, which we use there.

References:
    W. J. Cody, "Rational Chebyshev approximations for the error function",
    Mathematics of Computation 23 (1969), 631-637.
"""

from __future__ import annotations

import numpy as np

from ..backend import get_array_module

_A = (3.16112374387056560e00, 1.13864154151050156e02, 3.77485237685302021e02,
      3.20937758913846947e03, 1.85777706184603153e-1)
_B = (2.36012909523441209e01, 2.44024637934444173e02, 1.28261652607737228e03,
      2.84423683343917062e03)
_C = (5.64188496988670089e-1, 8.88314979438837594e00, 6.61191906371416295e01,
      2.98635138197400131e02, 8.81952221241769090e02, 1.71204761263407058e03,
      2.05107837782607147e03, 1.23033935479799725e03, 2.15311535474403846e-8)
_D = (1.57449261107098347e01, 1.17693950891312499e02, 5.37181101862009858e02,
      1.62138957456669019e03, 3.29079923573345963e03, 4.36261909014324716e03,
      3.43936767414372164e03, 1.23033935480374942e03)
_P = (3.05326634961232344e-1, 3.60344899949804439e-1, 1.25781726111229246e-1,
      1.60837851487422766e-2, 6.58749161529837803e-4, 1.63153871373020978e-2)
_Q = (2.56852019228982242e00, 1.87295284992346725e00, 5.27905102951428412e-1,
      6.05183413124413191e-2, 2.33520497626869185e-3)
_SQRPI = 5.6418958354775628695e-1  # 1 / sqrt(pi)


def _cody_terms(t, num, den, n: int):
    """Numerator and denominator of one of Cody's rational approximations in ``t``, evaluated
    by Horner's rule in place as CALERF does: num[n+1] t^(n+1) + num[0] t^n + ... + num[n] and
    t^(n+1) + den[0] t^n + ... + den[n]."""
    xnum = num[n + 1] * t
    xden = t.copy()
    for i in range(n):
        xnum += num[i]
        xnum *= t
        xden += den[i]
        xden *= t
    return xnum + num[n], xden + den[n]


def _erfc_scaled_tail(y, xp):
    """erfc(y) for y > 0.46875 (the middle and asymptotic intervals), y >= 0 elementwise."""
    # middle interval, 0.46875 < y <= 4
    xnum, xden = _cody_terms(y, _C, _D, 7)
    r = xnum / xden
    big = y > 4.0
    if big.any():  # asymptotic interval, y > 4
        yb = y[big]
        z = 1.0 / (yb * yb)
        xnum, xden = _cody_terms(z, _P, _Q, 4)
        rb = z * xnum / xden
        r[big] = (_SQRPI - rb) / yb
    # exp(-y^2) split as exp(-ysq^2) exp(-(y - ysq)(y + ysq)) to keep the digits of y^2
    ysq = xp.trunc(y * 16.0) / 16.0
    delta = (y - ysq) * (y + ysq)
    return xp.exp(-ysq * ysq) * xp.exp(-delta) * r


def sigmoid(x):
    """sigma(x) = 1 / (1 + e^-x), computed as (1 + tanh(x / 2)) / 2, which never overflows."""
    xp = get_array_module(x)
    return 0.5 * (1 + xp.tanh(0.5 * x))


def erf(x):
    """erf(x) = 2/sqrt(pi) * integral_0^x exp(-t^2) dt, elementwise, in x's dtype."""
    if x.dtype == np.float16:  # float16 would overflow in the rational terms: use float32
        return erf(x.astype(np.float32)).astype(np.float16)
    xp = get_array_module(x)
    if xp.__name__ == "cupy":
        from cupyx.scipy.special import erf as cupy_erf  # noqa: PLC0415 - GPU only

        return cupy_erf(x).astype(x.dtype, copy=False)  # keep float32 (CuPy 14 gives float64)
    y = xp.abs(x)
    with xp.errstate(over="ignore", under="ignore", divide="ignore", invalid="ignore"):
        z = y * y
        xnum, xden = _cody_terms(z, _A, _B, 3)
        out = x * xnum / xden
        far = y > 0.46875
        if far.any():
            yf = xp.minimum(y[far], 10.0)  # erfc(10) < 1e-44: erf is +-1 in every dtype
            out[far] = xp.copysign(1.0 - _erfc_scaled_tail(yf, xp), x[far]).astype(x.dtype)
    return out
